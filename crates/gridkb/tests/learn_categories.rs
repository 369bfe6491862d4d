//! `gridkb learn-categories` end to end through the binary: the split kept, the texts masked
//! before they are written, a rerun replacing what was kept, and bad input refused with a
//! message that says what to fix and leaves the kept tickets as they were.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::gridkb as binary;

fn gridkb(args: &[&str], data: &Path) -> Output {
    binary().args(args).arg("--data").arg(data).output().expect("run gridkb")
}

fn ingested() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mini = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mini.jsonl");
    let output = binary().arg("ingest").arg(mini).arg("--data").arg(&data).arg("--no-dense").output().expect("run");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (dir, data)
}

const TICKETS: &str = concat!(
    r#"{"_id":"t-1","text":"张工13812345678，保护装置黑屏","minor":"fault_repair","split":"dev"}"#,
    "\n",
    r#"{"_id":"t-2","text":"请问这个型号支持什么规约","minor":"consultation","split":"dev"}"#,
    "\n",
    r#"{"_id":"t-3","text":"屏幕字体能不能大一点","minor":"suggestion","split":"test"}"#,
    "\n"
);

#[test]
fn learns_the_split_masked_and_refuses_bad_files_without_losing_the_kept_ones() {
    let (dir, data) = ingested();
    let file = dir.path().join("tickets.jsonl");
    std::fs::write(&file, TICKETS).expect("write");
    let output = gridkb(&["learn-categories", file.to_str().expect("path"), "--split", "dev"], &data);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("from 2 tickets (consultation 1, fault_repair 1)"), "{stdout}");
    assert!(stdout.contains("1 rows of other splits left out"), "{stdout}");
    let kept_path = data.join("ticket_history.jsonl");
    let kept = std::fs::read_to_string(&kept_path).expect("kept");
    assert_eq!(kept.lines().count(), 2);
    assert!(!kept.contains("12345678") && !kept.contains("t-3"), "{kept}");

    // Without a split every row counts, replacing what was kept.
    let output = gridkb(&["learn-categories", file.to_str().expect("path")], &data);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let kept = std::fs::read_to_string(&kept_path).expect("kept");
    assert_eq!(kept.lines().count(), 3);

    // Refused: an unknown category (the line and the codes to use), one category only, no row of
    // the split; each leaves the kept file as it was.
    for (text, split, expected) in [
        ("{\"text\":\"黑屏\",\"category\":\"broken\"}\n", None, "line 1: unknown category `broken`"),
        ("{\"text\":\"黑屏\",\"category\":\"fault_repair\"}\n", None, "fewer than two categories"),
        (TICKETS, Some("train"), "no labelled ticket of the split `train`"),
        ("not json\n", None, "line 1 is not a labelled ticket"),
    ] {
        std::fs::write(&file, text).expect("write");
        let mut args = vec!["learn-categories", file.to_str().expect("path")];
        if let Some(split) = split {
            args.extend(["--split", split]);
        }
        let output = gridkb(&args, &data);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{text}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert_eq!(std::fs::read_to_string(&kept_path).expect("kept").lines().count(), 3);
    }
}
