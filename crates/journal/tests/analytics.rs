//! Figures on fixtures whose clusters, gaps and spikes are known in advance.

use journal::analytics::{
    self, DAY_MS, Period, category_mix, cluster, feedback_by_item, gaps, hot_issues, zero_results,
};
use journal::{FeedbackEvent, RequestEvent, Route, Verdict};

const DAY: i64 = 20_000; // a day number: 2024-10-04

fn ask(id: &str, day: i64, terms: &[&str], faults: &[&str], shown: usize) -> RequestEvent {
    RequestEvent {
        id: id.into(),
        at_ms: day * DAY_MS + 3_600_000,
        route: Some(Route::Search),
        role: "agent".into(),
        text: terms.join(""),
        terms: terms.iter().map(|s| s.to_string()).collect(),
        faults: faults.iter().map(|s| s.to_string()).collect(),
        shown: (0..shown).map(|i| format!("kb-{i}")).collect(),
        zero: shown == 0,
        ..RequestEvent::default()
    }
}

/// Three topics written three ways each, and one stray.
fn fixture() -> Vec<RequestEvent> {
    vec![
        ask("a1", DAY, &["差动", "保护", "告警"], &["f-diff"], 3),
        ask("b1", DAY, &["电表", "显示", "乱码"], &["f-meter"], 0),
        ask("a2", DAY, &["差动", "保护", "告警", "怎么办"], &["f-diff"], 3),
        ask("c1", DAY, &["充电桩", "无法", "启动"], &[], 0),
        ask("b2", DAY, &["电表", "乱码"], &["f-meter"], 0),
        ask("a3", DAY, &["差动", "告警"], &["f-diff"], 2),
        ask("c2", DAY, &["充电桩", "启动", "失败"], &[], 0),
        ask("b3", DAY, &["电表", "屏幕", "乱码"], &["f-meter"], 0),
        ask("c3", DAY, &["充电桩", "无法", "启动", "失败"], &[], 0),
        ask("x1", DAY, &["合同", "续签"], &[], 4),
    ]
}

fn members(clusters: &[analytics::Cluster], events: &[&RequestEvent]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = clusters
        .iter()
        .map(|c| {
            let mut ids: Vec<String> = c.members.iter().map(|&m| events[m].id.clone()).collect();
            ids.sort();
            ids
        })
        .collect();
    out.sort();
    out
}

#[test]
fn phrasings_of_one_question_form_one_cluster() {
    let events = fixture();
    let refs: Vec<&RequestEvent> = events.iter().collect();
    let clusters = cluster(&refs, analytics::CLUSTER_THRESHOLD);
    assert_eq!(
        members(&clusters, &refs),
        [vec!["a1", "a2", "a3"], vec!["b1", "b2", "b3"], vec!["c1", "c2", "c3"], vec!["x1"]]
    );
    // Ids are stable: the same events in another order give the same clusters and ids.
    let mut reversed = refs.clone();
    reversed.reverse();
    let again = cluster(&reversed, analytics::CLUSTER_THRESHOLD);
    let ids = |cs: &[analytics::Cluster]| {
        let mut v: Vec<String> = cs.iter().map(|c| c.id.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&clusters), ids(&again));
}

#[test]
fn gaps_are_the_unanswered_clusters_with_their_counts_and_examples() {
    let events = fixture();
    let refs: Vec<&RequestEvent> = events.iter().collect();
    let found = gaps(&refs);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found.iter().map(|g| g.count).collect::<Vec<_>>(), [3, 3]);
    let meter = found.iter().find(|g| g.terms.contains(&"电表".to_string())).expect("the meter gap");
    assert_eq!(meter.examples.len(), 3);
    assert!(meter.id.starts_with("gap-"));
    assert_eq!(meter.first_seen_ms, DAY * DAY_MS + 3_600_000);
}

#[test]
fn a_topic_that_doubles_over_the_previous_week_is_a_spike() {
    let mut events = Vec::new();
    // Diff-protection alarms: 3 in the previous week, 9 in the last; meters: 6 then 6.
    for i in 0..3 {
        events.push(ask(&format!("p{i}"), DAY - 8 - i, &["差动", "告警"], &["f-diff"], 2));
    }
    for i in 0..9 {
        events.push(ask(&format!("n{i}"), DAY - (i % 7), &["差动", "保护", "告警"], &["f-diff"], 2));
    }
    for i in 0..6 {
        events.push(ask(&format!("m{i}"), DAY - 7 - (i % 7), &["电表", "乱码"], &["f-meter"], 1));
        events.push(ask(&format!("k{i}"), DAY - (i % 7), &["电表", "乱码"], &["f-meter"], 1));
    }
    let refs: Vec<&RequestEvent> = events.iter().collect();
    let hot = hot_issues(&refs, Period::Week, DAY, 4);
    assert_eq!(hot.len(), 2);
    assert_eq!((hot[0].count, hot[0].previous, hot[0].spike), (9, 3, true));
    assert_eq!(hot[0].trend, [0, 0, 3, 9]);
    assert_eq!((hot[1].count, hot[1].previous, hot[1].spike), (6, 6, false));
    // Daily: the last day only.
    let today = hot_issues(&refs, Period::Day, DAY, 7);
    assert_eq!(today.iter().map(|h| h.count).sum::<u64>(), 3);
}

#[test]
fn zero_result_rate_and_category_mix_per_day() {
    let mut events = fixture();
    events[0].category = Some("fault_repair".into());
    events[1].category = Some("fault_repair".into());
    events[2].category = Some("complaint".into());
    events.push(ask("y", DAY + 1, &["合同"], &[], 0));
    let refs: Vec<&RequestEvent> = events.iter().collect();
    let rates = zero_results(&refs);
    assert_eq!(rates.len(), 2);
    assert_eq!((rates[0].requests, rates[0].zero), (10, 6));
    assert_eq!((rates[1].requests, rates[1].zero, rates[1].rate), (1, 1, 1.0));
    let mix = category_mix(&refs);
    assert_eq!(mix.len(), 1);
    assert_eq!(mix[0].categories["fault_repair"], 2);
    assert_eq!(mix[0].categories["complaint"], 1);
}

#[test]
fn verdicts_per_item() {
    let verdict = |item: &str, verdict: Verdict| FeedbackEvent {
        request_id: "r".into(),
        item_id: Some(item.into()),
        verdict,
        comment: None,
        key: None,
        org: None,
        at_ms: 5,
    };
    let feedback = [
        verdict("kb-1", Verdict::Helpful),
        verdict("kb-1", Verdict::Solved),
        verdict("kb-1", Verdict::Wrong),
        verdict("kb-2", Verdict::Outdated),
    ];
    let items = feedback_by_item(&feedback);
    assert_eq!(items[0].item, "kb-1");
    assert_eq!((items[0].helpful, items[0].solved, items[0].wrong), (1, 1, 1));
    assert!((items[0].helpful_rate - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!((items[1].item.as_str(), items[1].outdated, items[1].helpful_rate), ("kb-2", 1, 0.0));
}

/// Four phrasings of one question are one cluster whichever comes first, although the third
/// and the second share only half their words.
#[test]
fn clusters_do_not_depend_on_which_phrasing_came_first() {
    let phrasings: [&[&str]; 4] = [
        &["主变", "色谱", "在线", "监测", "乙炔", "超标"],
        &["色谱", "在线", "监测", "乙炔", "超标"],
        &["主变", "色谱", "乙炔", "超标", "告警"],
        &["色谱", "监测", "乙炔", "超标"],
    ];
    let orders = [[0, 1, 2, 3], [1, 0, 2, 3], [1, 2, 0, 3], [3, 2, 1, 0], [2, 1, 3, 0], [1, 3, 2, 0]];
    for order in orders {
        let events: Vec<RequestEvent> = order
            .iter()
            .enumerate()
            .map(|(t, &p)| {
                let mut e = ask(&format!("q{p}"), DAY, phrasings[p], &[], 0);
                e.at_ms += t as i64;
                e
            })
            .collect();
        let refs: Vec<&RequestEvent> = events.iter().collect();
        let clusters = cluster(&refs, analytics::CLUSTER_THRESHOLD);
        assert_eq!(clusters.len(), 1, "order {order:?}: {clusters:#?}");
    }
}
