//! The data directory through the binary: `gridkb stats`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mini.jsonl")
}

fn gridkb(args: &[&str], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridkb"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("GRIDKB_DATA")
        .env_remove("GRIDKB_LIMITS")
        .env_remove("GRIDKB_MODEL")
        .env("GRIDKB_LOG", "warn")
        .output()
        .expect("run gridkb")
}

fn ingest(data: &Path, file: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_gridkb"))
        .args(["ingest", "--no-dense", "--data"])
        .arg(data)
        .arg(file)
        .env_remove("GRIDKB_LIMITS")
        .env("GRIDKB_LOG", "warn")
        .output()
        .expect("run gridkb ingest");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

fn stats_json(data: &Path) -> serde_json::Value {
    let output = gridkb(&["stats", "--json"], data);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("stats JSON")
}

#[test]
fn stats_counts_a_small_fixture_as_json_and_as_a_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    ingest(&data, &fixture());
    let stats = stats_json(&data);
    assert_eq!(stats["items"]["total"], 9);
    assert_eq!(stats["items"]["by_kind"]["technical_point"], 4);
    assert_eq!(stats["items"]["by_status"]["draft"], 1);
    assert_eq!(stats["items"]["by_category"]["fault_repair"], 6);
    assert_eq!(stats["items"]["by_product_line"]["pl-line-prot"], 5);
    assert_eq!(stats["entities"]["by_class"]["ProductModel"], 2);
    assert_eq!(stats["tickets"], 0);
    assert_eq!(stats["distinct_text_ratio"], 1.0);
    assert_eq!(stats["seq"]["store"], 16);
    assert!(stats["triples"].as_u64().is_some_and(|t| t > 16), "{}", stats["triples"]);
    assert!(stats["disk"]["entries"]["records.redb"].as_u64().is_some_and(|b| b > 0));
    let table = gridkb(&["stats"], &data);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("items 9\n"), "{text}");
    assert!(
        text.contains("items by kind") && text.lines().any(|l| l.trim_start().starts_with("technical_point")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.trim_start().starts_with("distinct-text ratio") && l.ends_with("1.000")), "{text}");
    // No knowledge base: a clear error, not an empty table.
    let empty = gridkb(&["stats"], &dir.path().join("nothing"));
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no knowledge base"));
}
