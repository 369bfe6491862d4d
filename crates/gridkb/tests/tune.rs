//! `gridkb tune` and `gridkb eval FILE` end to end through the binary, on the mini fixture and an
//! editor's labelled questions as XLSX (Chinese headers), CSV and JSONL.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::gridkb as binary;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
}

fn gridkb(args: &[&str], data: &Path) -> Output {
    binary().args(args).arg("--data").arg(data).arg("--no-dense").output().expect("run gridkb")
}

fn ingested() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let output = gridkb(&["ingest", fixture("mini.jsonl").to_str().expect("path")], &data);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (dir, data)
}

fn tune_json(data: &Path, set: &Path, dry_run: bool) -> serde_json::Value {
    let mut args = vec!["tune", "--json", "--set", set.to_str().expect("path")];
    if dry_run {
        args.push("--dry-run");
    }
    let output = gridkb(&args, data);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("report JSON")
}

/// A fusion that ranks by the graph alone: on questions the words answer, tuning must find better.
const GRAPH_ONLY: &str = r#"{"method": "weighted", "lexical": 0.0, "dense": 0.0, "graph": 1.0}"#;

#[test]
fn tune_replaces_a_bad_fusion_saves_it_and_then_keeps_it() {
    let (_dir, data) = ingested();
    std::fs::write(data.join("fusion.json"), GRAPH_ONLY).expect("seed a bad fusion");
    let set = fixture("labelled.xlsx");

    // A dry run measures and changes nothing.
    let dry = tune_json(&data, &set, true);
    assert_eq!(dry["changed"], true, "{dry:#}");
    assert_eq!(dry["applied"], false);
    assert_eq!(std::fs::read_to_string(data.join("fusion.json")).expect("file"), GRAPH_ONLY);

    let report = tune_json(&data, &set, false);
    assert_eq!(report["questions"], 5, "every question has a known expected id");
    assert_eq!(report["unknown_count"], 1);
    assert_eq!(report["unknown_ids"], serde_json::json!(["kb-missing"]));
    assert_eq!(report["before"]["fusion"], serde_json::from_str::<serde_json::Value>(GRAPH_ONLY).expect("json"));
    let (before, after) =
        (report["before"]["scores"]["ndcg@10"].as_f64(), report["after"]["scores"]["ndcg@10"].as_f64());
    let (before, after) = (before.expect("before"), after.expect("after"));
    assert!(after >= before + report["min_gain"].as_f64().expect("min_gain"), "{before} -> {after}");
    assert_eq!((report["changed"].as_bool(), report["applied"].as_bool()), (Some(true), Some(true)));
    // The candidates are reported best first, the chosen one among the best.
    let candidates = report["candidates"].as_array().expect("candidates");
    assert!(candidates.len() > 10);
    assert_eq!(candidates[0]["scores"]["ndcg@10"].as_f64(), Some(after));
    // Per category, before and after.
    let categories: Vec<&str> =
        report["per_category"].as_array().expect("rows").iter().filter_map(|r| r["category"].as_str()).collect();
    assert_eq!(categories, ["咨询", "故障"]);
    // Saved: the file holds the chosen fusion, and the next run starts from it and keeps it.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("fusion.json")).expect("saved")).expect("json");
    assert_eq!(saved, report["after"]["fusion"]);
    let again = tune_json(&data, &set, false);
    assert_eq!(again["before"]["fusion"], saved);
    assert_eq!(again["changed"], false, "{again:#}");
}

#[test]
fn the_same_questions_as_csv_or_jsonl_and_through_eval() {
    let (dir, data) = ingested();
    let csv = dir.path().join("questions.csv");
    std::fs::write(&csv, "question,expected,category\n纵联通道告警怎么处理,kb-tp-channel,fault\nCT断线告警怎么检查电流回路,kb-tp-ct,fault\n")
        .expect("csv");
    let jsonl = dir.path().join("questions.jsonl");
    std::fs::write(
        &jsonl,
        "{\"question\": \"纵联通道告警怎么处理\", \"expected\": [\"kb-tp-channel\"], \"category\": \"fault\"}\n\
         {\"question\": \"CT断线告警怎么检查电流回路\", \"expected\": \"kb-tp-ct\", \"category\": \"fault\"}\n",
    )
    .expect("jsonl");
    let from_csv = tune_json(&data, &csv, true);
    let from_jsonl = tune_json(&data, &jsonl, true);
    assert_eq!(from_csv["questions"], 2);
    assert_eq!(from_csv["before"]["fusion"], from_jsonl["before"]["fusion"]);
    for metric in ["ndcg@10", "mrr@10", "recall@10", "queries"] {
        assert_eq!(from_csv["before"]["scores"][metric], from_jsonl["before"]["scores"][metric], "{metric}");
    }
    // The default fusion finds both items first: nothing to gain, nothing changed.
    assert_eq!(from_csv["before"]["scores"]["ndcg@10"], 1.0);
    assert_eq!(from_csv["changed"], false);
    assert!(!data.join("fusion.json").exists());

    // `gridkb eval FILE --data DIR` measures the same file on the same knowledge base.
    let output = gridkb(&["eval", csv.to_str().expect("path"), "--json"], &data);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let eval: serde_json::Value = serde_json::from_slice(&output.stdout).expect("eval JSON");
    assert_eq!(eval["fused"]["ndcg@10"], 1.0, "{eval:#}");
    assert_eq!(eval["fused"]["queries"], 2);
}

#[test]
fn bad_labelled_sets_get_a_message_that_says_what_to_fix() {
    let (dir, data) = ingested();
    let cases = [
        ("notes.txt", "hello", "a labelled set is a .jsonl, .csv or .xlsx file"),
        ("no-ids.csv", "question,expected\n差动保护动作,\n", "row 2: no expected item id"),
        ("unknown.jsonl", "{\"question\": \"差动保护动作\", \"expected\": [\"kb-nowhere\"]}\n", "no expected id"),
        ("broken.jsonl", "{\"question\": \"差动\n", "line 1: not a JSON object"),
    ];
    for (name, text, wanted) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let output = gridkb(&["tune", "--set", path.to_str().expect("path")], &data);
        assert!(!output.status.success(), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(wanted), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    assert!(!data.join("fusion.json").exists(), "nothing was changed");
    // eval of a file needs the knowledge base it is about.
    let output =
        binary().args(["eval", fixture("labelled.xlsx").to_str().expect("path"), "--no-dense"]).output().expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--data"));
}

#[test]
fn a_broken_saved_fusion_stops_the_start_with_its_name() {
    let (_dir, data) = ingested();
    std::fs::write(data.join("fusion.json"), r#"{"method": "weighted", "lexical": -3}"#).expect("write");
    let output = gridkb(&["search", "通道告警"], &data);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fusion.json") && stderr.contains("delete it"), "{stderr}");
}
