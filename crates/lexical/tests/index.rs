//! The lexical index on a real tantivy directory: ranking, filters, snippets, deadlines,
//! replacement, deletion and reopening.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use analysis::Analyzer;
use lexical::{FilterField, IndexDoc, LexicalIndex, LexicalQuery};

fn doc(id: &str, title: &str, body: &str) -> IndexDoc {
    IndexDoc {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        kind: "technical_point".into(),
        status: "published".into(),
        version: 1,
        ..IndexDoc::default()
    }
}

fn corpus() -> Vec<IndexDoc> {
    let mut in_title = doc("kb-title", "GOOSE断链的处理方法", "检查交换机端口和光纤，确认配置一致。");
    in_title.products = vec!["gkb-931a".into(), "line-protection".into()];
    in_title.faults = vec!["goose-link-down".into()];
    in_title.category = Some("fault_repair".into());
    let mut in_body = doc("kb-body", "智能终端运行维护要点", "现场出现GOOSE断链告警时，先检查光纤，再检查交换机。");
    in_body.products = vec!["gkt-778a".into()];
    in_body.category = Some("fault_repair".into());
    let mut retired = doc("kb-retired", "GOOSE断链旧版处理说明", "本条已由新版替代。");
    retired.status = "retired".into();
    let mut answer = doc("kb-answer", "故障报修应答规范", "先安抚客户情绪，确认设备型号和告警信息，承诺处理时限。");
    answer.kind = "answer_standard".into();
    answer.category = Some("fault_repair".into());
    vec![
        in_title,
        in_body,
        retired,
        answer,
        doc("kb-other", "电能表时钟超差", "电池欠压会导致时钟超差，更换电池后校时。"),
    ]
}

fn open(dir: &std::path::Path) -> LexicalIndex {
    LexicalIndex::open(dir, Analyzer::new()).expect("open index")
}

fn query(index: &LexicalIndex, text: &str) -> LexicalQuery {
    LexicalQuery {
        terms: index.analyzer().query_terms(text),
        exclude_status: vec!["retired".into()],
        limit: 10,
        ..LexicalQuery::default()
    }
}

fn ids(index: &LexicalIndex, q: &LexicalQuery) -> Vec<String> {
    index.search(q).expect("search").hits.into_iter().map(|h| h.id).collect()
}

#[test]
fn a_term_in_the_title_outranks_the_same_term_in_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index.apply(&corpus(), &[], 1).unwrap();
    let found = ids(&index, &query(&index, "GOOSE断链"));
    assert_eq!(found, ["kb-title", "kb-body"], "retired item excluded, title match first");
}

#[test]
fn filters_restrict_without_changing_what_matches() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index.apply(&corpus(), &[], 1).unwrap();

    let mut q = query(&index, "GOOSE断链");
    q.filters = BTreeMap::from([(FilterField::Product, vec!["gkt-778a".into()])]);
    assert_eq!(ids(&index, &q), ["kb-body"]);

    q.filters = BTreeMap::from([(FilterField::Product, vec!["gkt-778a".into(), "line-protection".into()])]);
    assert_eq!(ids(&index, &q), ["kb-title", "kb-body"], "values of one field are OR-ed");

    q.filters = BTreeMap::from([
        (FilterField::Product, vec!["gkt-778a".into(), "line-protection".into()]),
        (FilterField::Fault, vec!["goose-link-down".into()]),
    ]);
    assert_eq!(ids(&index, &q), ["kb-title"], "different fields are AND-ed");

    let mut by_kind = query(&index, "处理");
    by_kind.filters = BTreeMap::from([(FilterField::Kind, vec!["answer_standard".into()])]);
    assert_eq!(ids(&index, &by_kind), ["kb-answer"]);

    let mut by_status = query(&index, "GOOSE断链");
    by_status.filters = BTreeMap::from([(FilterField::Status, vec!["retired".into()])]);
    assert_eq!(ids(&index, &by_status), ["kb-retired"], "an explicit status filter overrides the exclusion");
}

#[test]
fn snippets_highlight_matches_and_escape_html() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    let mut tricky = doc("kb-html", "时钟同步", "对时报文<script>alert(1)</script>中的时钟源切换导致对时异常。");
    tricky.kind = "technical_point".into();
    index.apply(&[tricky], &[], 1).unwrap();
    let results = index.search(&query(&index, "对时异常")).unwrap();
    let hit = &results.hits[0];
    assert!(hit.snippet.contains("<em>"), "snippet {:?} has no highlight", hit.snippet);
    assert!(!hit.snippet.contains("<script>"), "snippet {:?} not escaped", hit.snippet);
    assert!(hit.matched_terms.iter().any(|t| t == "对时"), "matched terms {:?}", hit.matched_terms);
    assert!(!results.partial);
}

#[test]
fn a_passed_deadline_answers_partial_instead_of_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index.apply(&corpus(), &[], 1).unwrap();
    let mut q = query(&index, "GOOSE断链");
    q.deadline = Some(Instant::now() - Duration::from_millis(1));
    let results = index.search(&q).unwrap();
    assert!(results.partial, "a search past its deadline must say so");
    assert!(results.hits.iter().all(|h| !h.snippet.contains("<em>")), "no snippets are made past the deadline");
}

#[test]
fn apply_replaces_deletes_and_records_the_sequence_number() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    assert_eq!(index.applied_seq().unwrap(), 0);
    index.apply(&corpus(), &[], 5).unwrap();
    assert_eq!(index.num_docs(), 5);

    let mut edited = doc("kb-other", "电能表时钟电池更换", "时钟电池更换步骤。");
    edited.version = 2;
    index.apply(&[edited], &["kb-answer"], 6).unwrap();
    assert_eq!(index.num_docs(), 4, "replacement keeps one document per id, deletion removes one");
    assert!(ids(&index, &query(&index, "超差")).is_empty(), "old wording of a replaced item is gone");
    assert_eq!(ids(&index, &query(&index, "电池更换")), ["kb-other"]);
    assert!(ids(&index, &query(&index, "安抚客户")).is_empty());
    drop(index);

    let reopened = open(dir.path());
    assert_eq!(reopened.applied_seq().unwrap(), 6, "the applied sequence number survives reopening");
    assert_eq!(reopened.num_docs(), 4);
    assert_eq!(ids(&reopened, &query(&reopened, "电池更换")), ["kb-other"]);
}

#[test]
fn pagination_and_totals_are_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    let docs: Vec<IndexDoc> = (0..25)
        .map(|i| doc(&format!("kb-{i:02}"), &format!("通道中断案例{i}"), "光纤通道中断，更换光模块。"))
        .collect();
    index.apply(&docs, &[], 1).unwrap();
    let mut q = query(&index, "通道中断");
    q.limit = 10;
    let first = index.search(&q).unwrap();
    q.offset = 20;
    let last = index.search(&q).unwrap();
    assert_eq!(first.total, 25);
    assert_eq!(first.hits.len(), 10);
    assert_eq!(last.hits.len(), 5);
    assert!(first.hits.iter().all(|h| last.hits.iter().all(|l| l.id != h.id)), "pages do not overlap");
}

#[test]
fn clear_empties_the_index_and_resets_the_sequence_number() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index.apply(&corpus(), &[], 3).unwrap();
    index.clear().unwrap();
    assert_eq!(index.num_docs(), 0);
    assert_eq!(index.applied_seq().unwrap(), 0);
}

#[test]
fn overlapping_search_mode_tokens_highlight_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    let body = "客户描述:“时间不对、对时异常”。工程师描述:被授时装置“对时异常”“B码丢失”,或时间同步监测显示偏差超限。\n派单提示:自查后仍未恢复的转二线。";
    index.apply(&[doc("kb-sync", "对时异常的应答", body)], &[], 1).unwrap();
    for text in ["对时异常 B码", "对时异常", "B码丢失 时间同步", "时间同步监测"] {
        let results = index.search(&query(&index, text)).unwrap();
        assert_eq!(results.hits.len(), 1, "{text}");
        assert!(results.hits[0].snippet.contains("<em>"), "{text}: {}", results.hits[0].snippet);
    }
}

#[test]
fn lookup_returns_only_listed_ids_that_pass_filters_with_lexical_scores() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index.apply(&corpus(), &[], 1).unwrap();
    let mut q = query(&index, "GOOSE断链");
    let wanted: Vec<String> = ["kb-body", "kb-other", "kb-retired", "kb-missing"].map(String::from).to_vec();
    let hits = index.lookup(&wanted, &q).unwrap();
    let found: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(found, ["kb-body", "kb-other"], "retired and unknown ids are left out, matches first");
    assert!(hits[0].score > 0.0 && hits[1].score == 0.0, "{hits:?}");
    assert!(hits[0].snippet.contains("<em>"));

    q.filters = BTreeMap::from([(FilterField::Product, vec!["line-protection".into()])]);
    assert!(index.lookup(&wanted, &q).unwrap().is_empty(), "filters apply to looked-up ids");
}

#[test]
fn expansions_find_synonyms_below_the_words_typed() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index.apply(&corpus(), &[], 1).unwrap();
    let plain = query(&index, "时钟超差");
    assert_eq!(ids(&index, &plain), ["kb-other"]);
    // 电池欠压 as a weak synonym: the item with both ranks first, the synonym alone still matches.
    let mut expanded = query(&index, "GOOSE断链");
    expanded.expansions = vec![("电池".into(), 0.15), ("欠压".into(), 0.15)];
    let found = ids(&index, &expanded);
    assert_eq!(found.first().map(String::as_str), Some("kb-title"), "{found:?}");
    assert!(found.contains(&"kb-other".to_string()), "{found:?}");
    let hits = index.search(&expanded).unwrap().hits;
    let other = hits.iter().find(|h| h.id == "kb-other").unwrap();
    assert!(other.matched_terms.contains(&"电池".to_string()));
    assert!(other.score < hits[0].score);
}

/// Every filter combination over the corpus: the in-memory table lets through exactly the ids
/// tantivy's filter query does, after writes, deletes and a reopen (the table then comes from
/// the stored documents).
#[test]
fn passing_agrees_with_the_tantivy_filters_for_every_combination() {
    let dir = tempfile::tempdir().unwrap();
    let mut docs = corpus();
    docs[0].owner = Some("org-p01".into());
    docs[0].owner_level = Some("province".into());
    docs[0].major = Some("fault".into());
    docs[1].tags = vec!["停电敏感".into(), "重要客户".into()];
    docs[3].owner = Some("org-p02".into());
    let ids: Vec<String> =
        docs.iter().map(|d| d.id.clone()).chain(["kb-missing".to_string(), "kb-deleted".to_string()]).collect();
    let filters: Vec<(FilterField, Vec<String>)> = vec![
        (FilterField::Kind, vec!["answer_standard".into()]),
        (FilterField::Category, vec!["fault_repair".into(), "consulting".into()]),
        (FilterField::Major, vec!["fault".into()]),
        (FilterField::Status, vec!["retired".into()]),
        (FilterField::Owner, vec!["org-p01".into(), "org-p02".into()]),
        (FilterField::OwnerLevel, vec!["province".into()]),
        (FilterField::Product, vec!["line-protection".into(), "gkt-778a".into()]),
        (FilterField::Fault, vec!["goose-link-down".into()]),
        (FilterField::Tag, vec!["重要客户".into()]),
    ];
    let check = |index: &LexicalIndex| {
        let mut compared = 0;
        // Every subset of up to two filters, with and without the status rule.
        for a in 0..=filters.len() {
            for b in a..=filters.len() {
                for exclude in [vec![], vec!["retired".to_string()]] {
                    let mut q = LexicalQuery { exclude_status: exclude, limit: 10, ..LexicalQuery::default() };
                    for i in [a, b].into_iter().filter(|i| *i < filters.len()) {
                        q.filters.insert(filters[i].0, filters[i].1.clone());
                    }
                    let by_tantivy: std::collections::BTreeSet<String> =
                        index.lookup(&ids, &q).unwrap().into_iter().map(|h| h.id).collect();
                    assert_eq!(index.passing(&ids, &q), by_tantivy, "{:?} excluding {:?}", q.filters, q.exclude_status);
                    compared += 1;
                }
            }
        }
        assert!(compared > 100);
    };
    {
        let index = open(dir.path());
        let mut deleted = doc("kb-deleted", "将被删除", "删除后不应通过过滤。");
        deleted.category = Some("fault_repair".into());
        docs.push(deleted);
        index.apply(&docs, &[], 1).unwrap();
        index.apply(&[], &["kb-deleted"], 2).unwrap();
        assert_eq!(index.filter_rows(), 5);
        check(&index);
    }
    let reopened = open(dir.path());
    assert_eq!(reopened.filter_rows(), 5, "the table is rebuilt from the stored documents");
    check(&reopened);
    reopened.clear().unwrap();
    assert_eq!(reopened.filter_rows(), 0);
}

/// A page is shown by id from one snapshot: in the order asked, each hit as a search would show
/// it (stored fields, snippet, matched terms), ids deleted after the snapshot still shown from
/// it, unknown ids left out; briefs carry the filter codes without reading documents.
#[test]
fn a_snapshot_ranks_and_shows_ids_as_search_does() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    index.apply(&corpus(), &[], 1).unwrap();
    let q = query(&index, "GOOSE断链");
    let searched = index.search(&q).unwrap().hits;
    let snapshot = index.snapshot();
    let ranked = snapshot.ranked(&q).unwrap();
    let by_search: Vec<(String, f32)> = searched.iter().map(|h| (h.id.clone(), h.score)).collect();
    assert_eq!(
        (ranked.scored, ranked.total),
        (by_search, 2),
        "ranked ids come from the id column, as search finds them"
    );
    index.apply(&[], &["kb-body"], 2).unwrap();

    let wanted: Vec<String> = ["kb-body", "kb-missing", "kb-title"].map(String::from).to_vec();
    let shown = snapshot.show(&wanted, &q, true).unwrap();
    assert_eq!(shown.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["kb-body", "kb-title"]);
    for hit in &shown {
        let same = searched.iter().find(|h| h.id == hit.id).unwrap();
        assert_eq!((&hit.title, &hit.snippet, &hit.matched_terms), (&same.title, &same.snippet, &same.matched_terms));
        assert!(hit.snippet.contains("<em>"), "{}", hit.snippet);
    }
    let plain = snapshot.show(&wanted[2..], &q, false).unwrap();
    assert!(!plain[0].snippet.contains("<em>"), "without snippets the head of the body is shown");
    assert!(index.snapshot().show(&wanted[..1], &q, true).unwrap().is_empty(), "a new snapshot sees the delete");
    let mut renamed = doc("kb-new", "GOOSE断链新条目", "新增的条目在新的段里。");
    renamed.version = 2;
    index.apply(&[renamed], &[], 3).unwrap();
    let ranked: Vec<String> = index.snapshot().ranked(&q).unwrap().scored.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ranked, ["kb-new", "kb-title"], "ids of new segments are read, deleted documents are not ranked");

    let briefs = index.briefs(&["kb-title".to_string(), "kb-body".to_string(), "kb-answer".to_string()]);
    assert_eq!(briefs.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["kb-title", "kb-answer"]);
    assert_eq!(briefs[0].products, ["gkb-931a", "line-protection"]);
    assert_eq!(briefs[0].faults, ["goose-link-down"]);
    assert_eq!((briefs[1].kind.as_str(), briefs[1].category.as_deref()), ("answer_standard", Some("fault_repair")));
    assert!(briefs.iter().all(|h| h.title.is_empty() && h.snippet.is_empty()));
}

/// One ranking split by kind gives each group what a ranking filtered to its kinds gives: the
/// same ids, scores and counts, with ties, a second segment, a deleted and a retired document.
#[test]
fn a_ranking_split_by_kind_matches_one_filtered_ranking_per_group() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path());
    let mut docs = corpus();
    for (i, kind) in ["answer_standard", "solved_case", "technical_point", "solved_case"].into_iter().enumerate() {
        let mut twin = doc(&format!("kb-twin-{i}"), "GOOSE断链", "检查光纤和交换机。");
        twin.kind = kind.into();
        docs.push(twin);
    }
    index.apply(&docs, &[], 1).unwrap();
    let mut late = doc("kb-late", "GOOSE断链告警", "新的段里的条目，检查光纤。");
    late.kind = "solved_case".into();
    index.apply(&[late], &["kb-twin-3"], 2).unwrap();
    let groups: Vec<Vec<String>> = vec![
        vec!["technical_point".into()],
        vec!["solved_case".into()],
        vec!["answer_standard".into(), "technical_point".into()],
        vec!["response_strategy".into()],
    ];
    let mut compared = 0;
    for text in ["GOOSE断链", "光纤 交换机 告警", "电能表时钟"] {
        for limit in [0, 1, 2, 10] {
            let mut q = query(&index, text);
            q.limit = limit;
            let snapshot = index.snapshot();
            let split = snapshot.ranked_by_kind(&q, &groups).unwrap();
            assert_eq!(split.len(), groups.len());
            for (kinds, got) in groups.iter().zip(split) {
                let mut filtered = q.clone();
                filtered.filters.insert(FilterField::Kind, kinds.clone());
                let alone = snapshot.ranked(&filtered).unwrap();
                assert_eq!(got, alone, "{text:?}, limit {limit}, kinds {kinds:?}");
                compared += usize::from(!alone.scored.is_empty());
            }
        }
    }
    assert!(compared > 10, "the groups found something to compare ({compared})");
}
