//! The journal: what the search routes served and what agents said about it — the raw material
//! of feedback in ranking, the editors' task queue and the managers' analytics.
//!
//! Architecture invariant: the journal holds masked text only (callers mask before they record)
//! and never slows a search down: a request event is applied in memory and handed to a writer
//! thread without waiting (dropped and counted when the queue is full). The writer appends JSON
//! lines to the newest segment and flushes them to the operating system at least every
//! `flush_interval` (1 s), so a crash of the process loses at most that much; feedback and task
//! changes wait for their own flush and `fsync` before they are acknowledged. Segments older than
//! the retention, or past the size bound, are deleted whole.

pub mod analytics;
pub mod event;
pub mod limits;
mod segments;
pub mod state;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use event::{Event, FeedbackEvent, RequestEvent, Route, TaskEvent, TaskStatus, Verdict};
pub use limits::JournalLimits;
pub use state::{Snapshot, State};

use calendar::DAY_MS;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the journal directory {path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("no recorded request has this id (it is unknown or past the journal's retention)")]
    UnknownRequest,
    #[error("that item was not among the results of this request")]
    ItemNotShown,
    #[error("the journal cannot be written: {0}")]
    Write(String),
}

/// What opening found on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub events: u64,
    pub segments: u64,
    /// Complete lines that did not parse and were skipped.
    pub skipped_lines: u64,
    /// Bytes of a line left unfinished by a crash, cut off.
    pub torn_bytes: u64,
}

/// Counters for `/metrics` and `/v1/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalCounters {
    /// Request events dropped because the writer's queue was full.
    pub dropped: u64,
    /// Writes or flushes that failed (disk full, ...); their events are lost.
    pub write_errors: u64,
}

/// Whether a verdict or a task change was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Created,
    Replaced,
    Unchanged,
}

enum Command {
    /// A line, and the time of its event.
    Append(String, i64),
    Durable(String, i64, SyncSender<io::Result<()>>),
    Flush(SyncSender<io::Result<()>>),
}

/// The open journal of one data directory.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    limits: JournalLimits,
    state: Arc<RwLock<State>>,
    sender: Option<SyncSender<Command>>,
    writer: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    /// Serialises feedback and task changes so that "is it new?" and the write agree.
    changes: std::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Counters {
    dropped: AtomicU64,
    write_errors: AtomicU64,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Append(..) => "Append",
            Command::Durable(..) => "Durable",
            Command::Flush(_) => "Flush",
        })
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Length of a request id made by [`new_request_id`].
pub const REQUEST_ID_LEN: usize = 24;

/// A new request id ([`REQUEST_ID_LEN`] characters): 12 hex digits of the time in ms, then 12
/// random ones.
pub fn new_request_id() -> String {
    let mut random = [0u8; 6];
    if getrandom::fill(&mut random).is_err() {
        // No randomness: the time and a counter still make ids unique within this process.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        random.copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes()[2..]);
    }
    let tail: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{:012x}{tail}", now_ms().max(0))
}

impl Journal {
    /// Opens (creating) the journal in `dir`: deletes what is past retention or size, replays
    /// the rest into memory, and starts the writer on a new segment.
    pub fn open(dir: &Path, limits: JournalLimits) -> Result<(Journal, OpenReport), JournalError> {
        let fail = |source: io::Error| JournalError::Open { path: dir.display().to_string(), source };
        create_private_dir(dir).map_err(fail)?;
        let now = now_ms();
        let retention_cutoff = now - i64::from(limits.retention_days) * DAY_MS;
        let mut closed = segments::list(dir).map_err(fail)?;
        let (current, file) = segments::create(dir, now).map_err(fail)?;
        segments::prune(dir, &mut closed, &current, retention_cutoff, limits.max_bytes).map_err(fail)?;
        let replay = segments::replay(&mut closed).map_err(fail)?;
        let report = OpenReport {
            events: replay.events.len() as u64,
            segments: closed.len() as u64,
            skipped_lines: replay.skipped_lines,
            torn_bytes: replay.torn_bytes,
        };
        let mut state = State::default();
        for event in replay.events {
            state.apply(event);
        }
        state.prune_before(retention_cutoff);
        let state = Arc::new(RwLock::new(state));
        let counters = Arc::new(Counters::default());
        let (sender, receiver) = mpsc::sync_channel(limits.queue.max(1));
        let mut writer = Writer {
            dir: dir.to_path_buf(),
            limits: limits.clone(),
            closed,
            current,
            file: BufWriter::new(file),
            unflushed_since: None,
            state: Arc::clone(&state),
            counters: Arc::clone(&counters),
        };
        // Task statuses begin every segment, so deleting old segments never reopens a task.
        writer.checkpoint_tasks();
        let writer = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(fail)?;
        let journal = Journal {
            dir: dir.to_path_buf(),
            limits,
            state,
            sender: Some(sender),
            writer: Some(writer),
            counters,
            changes: std::sync::Mutex::new(()),
        };
        Ok((journal, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn limits(&self) -> &JournalLimits {
        &self.limits
    }

    /// Records a served request without waiting for the disk.
    pub fn record_request(&self, event: RequestEvent) {
        let at_ms = event.at_ms;
        let event = Event::Request(Box::new(event));
        let line = match serde_json::to_string(&event) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a request event");
                return;
            }
        };
        self.write_state().apply(event);
        let Some(sender) = &self.sender else { return };
        match sender.try_send(Command::Append(line, at_ms)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records a verdict once it is on disk. The request must be known (and, when an item is
    /// named, must have shown it); the same verdict and comment again change nothing.
    pub fn record_feedback(&self, event: FeedbackEvent) -> Result<Recorded, JournalError> {
        let _one_at_a_time = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = {
            let state = self.state();
            let request = state.request(&event.request_id).ok_or(JournalError::UnknownRequest)?;
            if let Some(item) = &event.item_id
                && !request.shown.iter().any(|shown| shown == item)
            {
                return Err(JournalError::ItemNotShown);
            }
            match state.feedback_for(&state::feedback_key(&event)) {
                None => Recorded::Created,
                Some(old) if old.verdict == event.verdict && old.comment == event.comment => Recorded::Unchanged,
                Some(_) => Recorded::Replaced,
            }
        };
        if outcome == Recorded::Unchanged {
            return Ok(outcome);
        }
        self.durable(Event::Feedback(event))?;
        Ok(outcome)
    }

    /// Sets a task's status once it is on disk.
    pub fn set_task(&self, event: TaskEvent) -> Result<Recorded, JournalError> {
        let _one_at_a_time = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = match self.state().task(&event.task_id) {
            None => Recorded::Created,
            Some(old) if old.status == event.status => Recorded::Unchanged,
            Some(_) => Recorded::Replaced,
        };
        if outcome == Recorded::Unchanged {
            return Ok(outcome);
        }
        self.durable(Event::Task(event))?;
        Ok(outcome)
    }

    /// Writes, flushes and syncs one event, then applies it.
    fn durable(&self, event: Event) -> Result<(), JournalError> {
        let line = serde_json::to_string(&event).map_err(|e| JournalError::Write(e.to_string()))?;
        let (ack, done) = mpsc::sync_channel(1);
        let sender = self.sender.as_ref().ok_or_else(|| JournalError::Write("the journal is closed".into()))?;
        sender
            .send(Command::Durable(line, event.at_ms(), ack))
            .map_err(|_| JournalError::Write("the writer stopped".into()))?;
        done.recv()
            .map_err(|_| JournalError::Write("the writer stopped".into()))?
            .map_err(|e| JournalError::Write(e.to_string()))?;
        self.write_state().apply(event);
        Ok(())
    }

    /// Waits until everything recorded so far is on disk.
    pub fn flush(&self) -> Result<(), JournalError> {
        let (ack, done) = mpsc::sync_channel(1);
        let sender = self.sender.as_ref().ok_or_else(|| JournalError::Write("the journal is closed".into()))?;
        sender.send(Command::Flush(ack)).map_err(|_| JournalError::Write("the writer stopped".into()))?;
        done.recv()
            .map_err(|_| JournalError::Write("the writer stopped".into()))?
            .map_err(|e| JournalError::Write(e.to_string()))
    }

    /// Reads the events in memory.
    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the events in memory, for reports.
    pub fn snapshot(&self) -> Snapshot {
        self.state().snapshot()
    }

    pub fn counters(&self) -> JournalCounters {
        JournalCounters {
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            write_errors: self.counters.write_errors.load(Ordering::Relaxed),
        }
    }

    /// Bytes the segments take on disk now.
    pub fn disk_bytes(&self) -> u64 {
        segments::list(&self.dir).map_or(0, |s| s.iter().map(|s| s.bytes).sum())
    }
}

impl Drop for Journal {
    /// Stops the writer after it has flushed what is queued.
    fn drop(&mut self) {
        self.sender.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The thread that owns the newest segment.
struct Writer {
    dir: PathBuf,
    limits: JournalLimits,
    closed: Vec<segments::Segment>,
    current: segments::Segment,
    file: BufWriter<File>,
    /// When the oldest event not yet flushed was written.
    unflushed_since: Option<Instant>,
    state: Arc<RwLock<State>>,
    counters: Arc<Counters>,
}

impl Writer {
    fn run(mut self, receiver: mpsc::Receiver<Command>) {
        loop {
            let wait = self
                .unflushed_since
                .map_or(Duration::from_secs(3600), |since| self.limits.flush_interval.saturating_sub(since.elapsed()));
            match receiver.recv_timeout(wait) {
                Ok(Command::Append(line, at_ms)) => self.append(&line, at_ms),
                Ok(Command::Durable(line, at_ms, ack)) => {
                    let result = segments::write_line(&mut self.file, &line).and_then(|n| {
                        self.current.bytes += n;
                        self.current.last_ms = self.current.last_ms.max(at_ms);
                        self.sync()
                    });
                    let _ = ack.send(result);
                }
                Ok(Command::Flush(ack)) => {
                    let _ = ack.send(self.sync());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.sync_logged();
                    return;
                }
            }
            if self.unflushed_since.is_some_and(|since| since.elapsed() >= self.limits.flush_interval) {
                self.sync_logged();
            }
            if self.should_roll() {
                self.sync_logged();
                self.roll();
            }
        }
    }

    fn append(&mut self, line: &str, at_ms: i64) {
        match segments::write_line(&mut self.file, line) {
            Ok(n) => {
                self.current.bytes += n;
                self.current.last_ms = self.current.last_ms.max(at_ms);
                self.unflushed_since.get_or_insert_with(Instant::now);
            }
            Err(e) => self.failed("append", &e),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()?;
        self.unflushed_since = None;
        Ok(())
    }

    fn sync_logged(&mut self) {
        if let Err(e) = self.sync() {
            self.failed("flush", &e);
            self.unflushed_since = None;
        }
    }

    fn failed(&self, what: &str, error: &io::Error) {
        self.counters.write_errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %error, what, "the journal cannot be written; events are lost");
    }

    fn should_roll(&self) -> bool {
        self.current.bytes >= self.limits.segment_bytes || now_ms() - self.current.start_ms >= DAY_MS
    }

    /// Closes the current segment, begins a new one, and deletes what is past retention or size.
    fn roll(&mut self) {
        let now = now_ms();
        let (segment, file) = match segments::create(&self.dir, now) {
            Ok(next) => next,
            Err(e) => return self.failed("roll", &e),
        };
        self.closed.push(std::mem::replace(&mut self.current, segment));
        self.file = BufWriter::new(file);
        self.checkpoint_tasks();
        let retention_cutoff = now - i64::from(self.limits.retention_days) * DAY_MS;
        match segments::prune(&self.dir, &mut self.closed, &self.current, retention_cutoff, self.limits.max_bytes) {
            Ok(None) => {}
            Ok(Some(last_deleted)) => {
                let cutoff = retention_cutoff.max(last_deleted.saturating_add(1));
                self.state.write().unwrap_or_else(|e| e.into_inner()).prune_before(cutoff);
            }
            Err(e) => self.failed("prune", &e),
        }
    }

    /// Writes every task's latest status at the start of the current segment.
    fn checkpoint_tasks(&mut self) {
        let lines: Vec<(String, i64)> = {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            state
                .tasks()
                .filter_map(|t| serde_json::to_string(&Event::Task(t.clone())).ok().map(|l| (l, t.at_ms)))
                .collect()
        };
        for (line, at_ms) in &lines {
            self.append(line, *at_ms);
        }
        if !lines.is_empty() {
            self.sync_logged();
        }
    }
}

/// Creates `dir` (mode 0700 on Unix).
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Reads the journal in `dir` without changing anything on disk (no new segment, no tail cut):
/// for reports on a data directory another process may be writing.
pub fn read_snapshot(dir: &Path, limits: &JournalLimits) -> Result<(Snapshot, OpenReport), JournalError> {
    let fail = |source: io::Error| JournalError::Open { path: dir.display().to_string(), source };
    if !dir.is_dir() {
        return Ok((Snapshot::default(), OpenReport::default()));
    }
    let mut found = segments::list(dir).map_err(fail)?;
    let events = segments::read_only(&mut found).map_err(fail)?;
    let report = OpenReport {
        events: events.events.len() as u64,
        segments: found.len() as u64,
        skipped_lines: events.skipped_lines,
        torn_bytes: events.torn_bytes,
    };
    let cutoff = now_ms() - i64::from(limits.retention_days) * DAY_MS;
    let mut state = State::default();
    for event in events.events {
        state.apply(event);
    }
    state.prune_before(cutoff);
    Ok((state.snapshot(), report))
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_have_the_stated_length_and_differ() {
        let (a, b) = (super::new_request_id(), super::new_request_id());
        assert_eq!(a.len(), super::REQUEST_ID_LEN, "{a}");
        assert_eq!(b.len(), super::REQUEST_ID_LEN, "{b}");
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }
}
