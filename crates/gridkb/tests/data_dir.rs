//! The data directory through the binary: `gridkb stats`, the lock `reindex` takes before it
//! deletes anything, a first start's corpus ingest that resumes after a kill, private files.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::gridkb as binary;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mini.jsonl")
}

fn gridkb(args: &[&str], data: &Path) -> Output {
    binary().args(args).arg("--data").arg(data).output().expect("run gridkb")
}

fn ingest(data: &Path, file: &Path) {
    let output =
        binary().args(["ingest", "--no-dense", "--data"]).arg(data).arg(file).output().expect("run gridkb ingest");
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

#[test]
fn reindex_takes_the_lock_before_it_deletes_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    ingest(&data, &fixture());
    let held = search::DataDirLock::acquire(&data).expect("lock, as a running server holds it");
    let refused = gridkb(&["reindex", "--no-dense"], &data);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("another gridkb process"), "{refused:?}");
    assert!(data.join("lexical/meta.json").exists(), "nothing was deleted");
    drop(held);
    let done = gridkb(&["reindex", "--no-dense"], &data);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(String::from_utf8_lossy(&done.stdout).contains("reindexed 9 items"), "{done:?}");
}

/// Starts `serve` on the corpus directory, waits for its "ready" log line, and kills it.
fn serve_until_ready(data: &Path, corpus: &Path) {
    let mut child = binary()
        .args(["serve", "--no-dense", "--addr", "127.0.0.1:0", "--data"])
        .arg(data)
        .arg("--corpus")
        .arg(corpus)
        .env("GRIDKB_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let started = Instant::now();
    let mut log = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(120).saturating_sub(started.elapsed())) {
            Ok(line) if line.trim_end().ends_with(" ready") => break,
            Ok(line) => log.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("serve did not become ready: {log:#?}");
            }
        }
    }
    child.kill().expect("kill serve");
    child.wait().expect("wait");
}

#[test]
fn a_first_start_killed_during_its_ingest_finishes_it_on_the_next_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).expect("mkdir");
    std::fs::copy(fixture(), corpus.join("items.jsonl")).expect("copy fixture");
    // What a kill in the middle leaves: part of the corpus stored, the marker still there.
    let data = dir.path().join("data");
    let text = std::fs::read_to_string(fixture()).expect("fixture");
    let half: String = text.lines().take(10).map(|l| format!("{l}\n")).collect();
    let part = dir.path().join("part.jsonl");
    std::fs::write(&part, half).expect("write part");
    ingest(&data, &part);
    std::fs::write(data.join("first-start-ingest.pending"), corpus.display().to_string()).expect("marker");
    assert_eq!(stats_json(&data)["items"]["total"], 3);

    serve_until_ready(&data, &corpus);
    assert_eq!(stats_json(&data)["items"]["total"], 9, "the interrupted ingest was completed");
    assert!(!data.join("first-start-ingest.pending").exists());

    // A data directory filled by `gridkb ingest` (no marker) is not topped up with the corpus.
    let own = dir.path().join("own");
    ingest(&own, &part);
    serve_until_ready(&own, &corpus);
    assert_eq!(stats_json(&own)["items"]["total"], 3);
}

#[cfg(unix)]
#[test]
fn data_files_are_0600_and_directories_0700() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    ingest(&data, &fixture());
    let mut seen = 0;
    let mut stack = vec![data.clone()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::metadata(&path).expect("metadata");
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            stack.extend(std::fs::read_dir(&path).expect("read dir").map(|e| e.expect("entry").path()));
        } else {
            assert_eq!(mode, 0o600, "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 4, "records, lock and the lexical index's files: {seen}");
}

/// Starts `serve` (no model) on a data directory and waits for its "ready" log line.
fn start_serving(data: &Path) -> std::process::Child {
    let mut child = binary()
        .args(["serve", "--no-dense", "--addr", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("GRIDKB_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let started = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_secs(120).saturating_sub(started.elapsed())) {
            Ok(line) if line.trim_end().ends_with(" ready") => return child,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("serve did not become ready");
            }
        }
    }
}

fn run(args: &[&str]) -> Output {
    binary().args(args).output().expect("run gridkb")
}

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn a_backup_taken_while_serving_restores_to_the_same_knowledge_base() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    ingest(&data, &fixture());
    // The settings editors keep beside the store, which no rebuild brings back: the past
    // tickets the categories are learned from, and a tuned fusion.
    let past = dir.path().join("past.jsonl");
    std::fs::write(
        &past,
        concat!(
            r#"{"_id":"t-1","text":"保护装置黑屏","minor":"fault_repair"}"#,
            "\n",
            r#"{"_id":"t-2","text":"请问这个型号支持什么规约","minor":"consultation"}"#,
            "\n"
        ),
    )
    .expect("write past tickets");
    let learned = run(&["learn-categories", text(&past), "--data", text(&data)]);
    assert!(learned.status.success(), "{}", String::from_utf8_lossy(&learned.stderr));
    std::fs::write(data.join("fusion.json"), r#"{"method":"weighted","lexical":1.0,"dense":0.5,"graph":0.25}"#)
        .expect("write fusion");
    let before = stats_json(&data);

    // Online: the server holds the data directory, so the backup goes through it.
    let mut server = start_serving(&data);
    let online = dir.path().join("online");
    let made = run(&["backup", "--data", text(&data), text(&online)]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert!(String::from_utf8_lossy(&made.stdout).contains("backed up 16 records (store sequence 16)"), "{made:?}");
    assert!(online.join("backup.json").is_file() && online.join("records.redb").is_file());
    assert!(!data.join("backups").read_dir().expect("backups dir").any(|_| true), "moved out of the data directory");
    // Not over an existing directory.
    let again = run(&["backup", "--data", text(&data), text(&online)]);
    assert!(!again.status.success());
    server.kill().expect("kill serve");
    server.wait().expect("wait");

    // Restore into a new directory: the same knowledge base, indexes rebuilt at the next open.
    let restored = dir.path().join("restored");
    let done = run(&["restore", "--data", text(&restored), text(&online)]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let after = stats_json(&restored);
    for field in ["items", "entities", "seq"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    for name in ["ticket_history.jsonl", "fusion.json"] {
        let kept = std::fs::read(restored.join(name)).unwrap_or_default();
        assert_eq!(kept, std::fs::read(data.join(name)).expect(name), "{name} restored");
    }
    let search = |data: &Path| -> Vec<String> {
        let output = run(&["search", "--no-dense", "--data", text(data), "--json", "通道告警"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout).expect("search JSON");
        answer["hits"].as_array().expect("hits").iter().map(|h| h["id"].to_string()).collect()
    };
    let found = search(&restored);
    assert!(!found.is_empty());
    assert_eq!(found, search(&data), "the same answers");

    // Never over a knowledge base, never from a damaged backup.
    let over = run(&["restore", "--data", text(&data), text(&online)]);
    assert!(!over.status.success());
    assert!(String::from_utf8_lossy(&over.stderr).contains("already holds a knowledge base"), "{over:?}");
    let damaged = dir.path().join("damaged");
    std::fs::create_dir(&damaged).expect("mkdir");
    for entry in std::fs::read_dir(&online).expect("backup") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), damaged.join(entry.file_name())).expect("copy");
    }
    let mut bytes = std::fs::read(damaged.join("records.redb")).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(damaged.join("records.redb"), bytes).expect("write");
    let refused = run(&["restore", "--data", text(&dir.path().join("elsewhere")), text(&damaged)]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not match the manifest"), "{refused:?}");

    // Offline (no server): the same command takes the lock and copies.
    let offline = dir.path().join("offline");
    let made = run(&["backup", "--data", text(&data), text(&offline)]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let online_manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(online.join("backup.json")).expect("manifest")).expect("json");
    let offline_manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(offline.join("backup.json")).expect("manifest")).expect("json");
    assert_eq!(online_manifest["seq"], offline_manifest["seq"]);
    assert_eq!(online_manifest["records"], offline_manifest["records"]);
}
