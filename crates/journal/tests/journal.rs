//! The journal on disk: reopening, feedback rules, damage, retention and a crash.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use journal::{
    FeedbackEvent, Journal, JournalError, JournalLimits, Recorded, RequestEvent, Route, TaskEvent, TaskStatus, Verdict,
    now_ms,
};

fn request(id: &str, at_ms: i64, shown: &[&str]) -> RequestEvent {
    RequestEvent {
        id: id.to_string(),
        at_ms,
        route: Some(Route::Search),
        role: "agent".into(),
        text: format!("查询 {id}"),
        terms: vec!["差动".into(), "告警".into()],
        shown: shown.iter().map(|s| s.to_string()).collect(),
        zero: shown.is_empty(),
        ..RequestEvent::default()
    }
}

fn verdict(request_id: &str, item: Option<&str>, verdict: Verdict, key: &str) -> FeedbackEvent {
    FeedbackEvent {
        request_id: request_id.into(),
        item_id: item.map(str::to_string),
        verdict,
        comment: None,
        key: Some(key.into()),
        org: None,
        at_ms: now_ms(),
    }
}

fn segment_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

#[test]
fn events_survive_a_reopen_and_feedback_follows_its_rules() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    {
        let (journal, report) = Journal::open(dir.path(), JournalLimits::default()).unwrap();
        assert_eq!(report.events, 0);
        journal.record_request(request("r1", now, &["kb-1", "kb-2"]));
        journal.record_request(request("r2", now + 1, &[]));
        assert_eq!(
            journal.record_feedback(verdict("r1", Some("kb-2"), Verdict::Helpful, "k1")).unwrap(),
            Recorded::Created
        );
        // Idempotent per (request, item, key); a changed verdict replaces the old one.
        assert_eq!(
            journal.record_feedback(verdict("r1", Some("kb-2"), Verdict::Helpful, "k1")).unwrap(),
            Recorded::Unchanged
        );
        assert_eq!(
            journal.record_feedback(verdict("r1", Some("kb-2"), Verdict::Solved, "k1")).unwrap(),
            Recorded::Replaced
        );
        assert_eq!(
            journal.record_feedback(verdict("r1", Some("kb-2"), Verdict::Helpful, "k2")).unwrap(),
            Recorded::Created
        );
        assert!(matches!(
            journal.record_feedback(verdict("nope", None, Verdict::Helpful, "k1")),
            Err(JournalError::UnknownRequest)
        ));
        assert!(matches!(
            journal.record_feedback(verdict("r1", Some("kb-9"), Verdict::Wrong, "k1")),
            Err(JournalError::ItemNotShown)
        ));
        let task = TaskEvent { task_id: "gap-1".into(), status: TaskStatus::Dismissed, by: "ed".into(), at_ms: now };
        assert_eq!(journal.set_task(task.clone()).unwrap(), Recorded::Created);
        assert_eq!(journal.set_task(task).unwrap(), Recorded::Unchanged);
    }
    let (journal, report) = Journal::open(dir.path(), JournalLimits::default()).unwrap();
    assert_eq!((report.skipped_lines, report.torn_bytes), (0, 0));
    let state = journal.state();
    assert_eq!(state.requests().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["r1", "r2"]);
    let mut verdicts: Vec<(String, Verdict)> = state.feedback().map(|f| (f.key.clone().unwrap(), f.verdict)).collect();
    verdicts.sort();
    assert_eq!(verdicts, [("k1".to_string(), Verdict::Solved), ("k2".to_string(), Verdict::Helpful)]);
    assert_eq!(state.task("gap-1").map(|t| t.status), Some(TaskStatus::Dismissed));
}

#[test]
fn an_unfinished_last_line_is_cut_off_and_a_damaged_line_skipped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, _) = Journal::open(dir.path(), JournalLimits::default()).unwrap();
        for i in 0..5 {
            journal.record_request(request(&format!("r{i}"), now_ms(), &["kb-1"]));
        }
        journal.flush().unwrap();
    }
    let files = segment_files(dir.path());
    let written = files.iter().find(|f| std::fs::metadata(f).unwrap().len() > 0).unwrap().clone();
    let text = std::fs::read_to_string(&written).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{\"event\":\"request\",\"id\":"; // damaged inside the file
    let damaged = format!("{}\n{{\"event\":\"requ", lines.join("\n")); // and torn at the end
    std::fs::write(&written, &damaged).unwrap();

    let (journal, report) = Journal::open(dir.path(), JournalLimits::default()).unwrap();
    assert_eq!(report.skipped_lines, 1);
    assert_eq!(report.torn_bytes, "{\"event\":\"requ".len() as u64);
    assert_eq!(journal.state().request_count(), 4);
    assert!(std::fs::read_to_string(&written).unwrap().ends_with('\n'), "the torn tail is cut off");
}

#[test]
fn old_segments_are_deleted_by_size_and_their_requests_forgotten_but_task_states_kept() {
    let dir = tempfile::tempdir().unwrap();
    let limits = JournalLimits { segment_bytes: 2_000, max_bytes: 6_000, ..JournalLimits::default() };
    let (journal, _) = Journal::open(dir.path(), limits.clone()).unwrap();
    journal
        .set_task(TaskEvent { task_id: "gap-x".into(), status: TaskStatus::Done, by: "ed".into(), at_ms: now_ms() })
        .unwrap();
    for i in 0..400 {
        journal.record_request(request(&format!("r{i:04}"), now_ms(), &["kb-1"]));
        if i % 20 == 0 {
            journal.flush().unwrap();
        }
    }
    journal.flush().unwrap();
    let on_disk = journal.disk_bytes();
    assert!(on_disk <= limits.max_bytes + limits.segment_bytes, "{on_disk} bytes on disk");
    let kept = journal.state().request_count();
    assert!(kept < 400, "old requests are forgotten with their segments ({kept} kept)");
    assert!(journal.state().request("r0399").is_some(), "the newest request is kept");
    drop(journal);
    let (journal, _) = Journal::open(dir.path(), limits).unwrap();
    assert_eq!(journal.state().task("gap-x").map(|t| t.status), Some(TaskStatus::Done));
    assert!(journal.state().request("r0000").is_none());
    assert!(journal.state().request("r0399").is_some());
}

#[test]
fn requests_past_retention_are_forgotten_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let limits = JournalLimits { retention_days: 30, ..JournalLimits::default() };
    {
        let (journal, _) = Journal::open(dir.path(), limits.clone()).unwrap();
        journal.record_request(request("old", now_ms() - 31 * 86_400_000, &["kb-1"]));
        journal.record_request(request("new", now_ms() - 86_400_000, &["kb-1"]));
    }
    let (journal, _) = Journal::open(dir.path(), limits).unwrap();
    assert!(journal.state().request("old").is_none());
    assert!(journal.state().request("new").is_some());
}

/// The child side of the crash test: records requests as fast as it can and prints, every 50,
/// how many it has recorded and when.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("GRIDKB_JOURNAL_CRASH_DIR") else { return };
    let limits = JournalLimits { flush_interval: Duration::from_millis(200), ..JournalLimits::default() };
    let (journal, _) = Journal::open(std::path::Path::new(&dir), limits).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        journal.record_request(request(&format!("c{i:09}"), now_ms(), &["kb-1"]));
        if i % 50 == 0 {
            writeln!(out, "{i} {}", now_ms()).unwrap();
            out.flush().unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// kill -9 while requests are being recorded, five times over one directory: the journal opens,
/// nothing in it is damaged, what survives is a gap-free prefix, and what is lost was recorded in
/// the last flush interval (200 ms here) before the kill, with a generous allowance for a loaded
/// machine.
#[test]
fn a_kill_during_recording_loses_at_most_the_last_flush_interval() {
    let dir = tempfile::tempdir().unwrap();
    let allowance_ms = 200 + 2_000;
    for round in 0..5 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env("GRIDKB_JOURNAL_CRASH_DIR", dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut progress: Vec<(u64, i64)> = Vec::new();
        // Let it run past a few flushes (a different point each round), then kill it.
        let wanted = 20 + round * 7;
        while progress.len() < wanted {
            let line = lines.next().expect("child output").unwrap();
            let mut parts = line.split(' ');
            let (Some(n), Some(t)) = (parts.next(), parts.next()) else { continue };
            let (Ok(n), Ok(t)) = (n.parse(), t.parse()) else { continue };
            progress.push((n, t));
        }
        child.kill().unwrap(); // SIGKILL
        let killed_at = now_ms();
        child.wait().unwrap();

        let (journal, report) = Journal::open(dir.path(), JournalLimits::default()).unwrap();
        assert_eq!(report.skipped_lines, 0, "round {round}: no damaged line");
        let state = journal.state();
        let ids: Vec<u64> =
            state.requests().filter_map(|r| r.id.strip_prefix('c').and_then(|n| n.parse().ok())).collect();
        // This round's ids start again at 0: take the run after the last restart.
        let start = ids.iter().rposition(|&n| n == 0).expect("this round recorded something");
        let run = &ids[start..];
        assert!(run.windows(2).all(|w| w[1] == w[0] + 1), "round {round}: a gap-free prefix");
        let last = *run.last().unwrap();
        let must_have = progress.iter().filter(|(_, t)| *t <= killed_at - allowance_ms).map(|(n, _)| *n).max();
        if let Some(must_have) = must_have {
            assert!(
                last >= must_have,
                "round {round}: lost {must_have} recorded over {allowance_ms} ms before the kill"
            );
        }
    }
}
