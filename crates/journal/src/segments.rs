//! The journal on disk: a directory of segment files, each named by the time (ms) it was begun,
//! each a sequence of JSON lines. Only the newest segment is ever appended to; old segments are
//! deleted whole, by age and by total size. A line cut short by a crash (no final newline) is cut
//! off at the next open; a line that does not parse is skipped and counted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::event::Event;

const SUFFIX: &str = ".jsonl";

/// One segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub path: PathBuf,
    /// When it was begun (ms since the epoch), from its name.
    pub start_ms: i64,
    pub bytes: u64,
    /// The latest event time in it (0 when unknown or empty).
    pub last_ms: i64,
}

/// The segments of `dir`, oldest first (files with other names are left alone).
pub(crate) fn list(dir: &Path) -> io::Result<Vec<Segment>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(start) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)).and_then(|n| n.parse::<i64>().ok()) else {
            continue;
        };
        segments.push(Segment { path: entry.path(), start_ms: start, bytes: entry.metadata()?.len(), last_ms: 0 });
    }
    segments.sort_by_key(|s| s.start_ms);
    Ok(segments)
}

/// What reading the segments found.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    pub events: Vec<Event>,
    /// Complete lines that did not parse (damage inside a file).
    pub skipped_lines: u64,
    /// Bytes of unfinished last lines cut off (a crash during a write).
    pub torn_bytes: u64,
}

/// Reads every segment in order; cuts off an unfinished last line so appends start clean.
pub(crate) fn replay(segments: &mut [Segment]) -> io::Result<Replay> {
    read(segments, true)
}

/// Reads every segment in order and changes nothing.
pub(crate) fn read_only(segments: &mut [Segment]) -> io::Result<Replay> {
    read(segments, false)
}

fn read(segments: &mut [Segment], cut_torn_tails: bool) -> io::Result<Replay> {
    let mut replay = Replay::default();
    for segment in segments.iter_mut() {
        let bytes = fs::read(&segment.path)?;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() {
            replay.torn_bytes += (bytes.len() - complete) as u64;
        }
        if cut_torn_tails && complete < bytes.len() {
            let file = OpenOptions::new().write(true).open(&segment.path)?;
            file.set_len(complete as u64)?;
            file.sync_all()?;
        }
        for line in bytes[..complete].split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Event>(line) {
                Ok(event) => {
                    segment.last_ms = segment.last_ms.max(event.at_ms());
                    replay.events.push(event);
                }
                Err(_) => replay.skipped_lines += 1,
            }
        }
    }
    Ok(replay)
}

/// Begins a new segment at `start_ms` (a later one if that name is taken), private to the owner.
pub(crate) fn create(dir: &Path, mut start_ms: i64) -> io::Result<(Segment, File)> {
    loop {
        let path = dir.join(format!("{start_ms:016}{SUFFIX}"));
        let mut options = OpenOptions::new();
        options.append(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(file) => {
                sync_dir(dir)?;
                return Ok((Segment { path, start_ms, bytes: 0, last_ms: 0 }, file));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => start_ms += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Makes a created or deleted file's directory entry durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Deletes closed segments whose every event is older than `cutoff_ms` (the next segment began
/// before it), then the oldest closed ones while all segments together exceed `max_bytes`.
/// Returns the latest event time among the deleted segments (`None` when none was deleted).
pub(crate) fn prune(
    dir: &Path,
    closed: &mut Vec<Segment>,
    current: &Segment,
    cutoff_ms: i64,
    max_bytes: u64,
) -> io::Result<Option<i64>> {
    let mut deleted = None;
    while let Some(first) = closed.first() {
        let next_start = closed.get(1).map_or(current.start_ms, |s| s.start_ms);
        let total: u64 = closed.iter().map(|s| s.bytes).sum::<u64>() + current.bytes;
        if next_start <= cutoff_ms || total > max_bytes {
            fs::remove_file(&first.path)
                .or_else(|e| if e.kind() == io::ErrorKind::NotFound { Ok(()) } else { Err(e) })?;
            let gone = closed.remove(0);
            deleted = Some(deleted.unwrap_or(i64::MIN).max(gone.last_ms));
        } else {
            break;
        }
    }
    if deleted.is_some() {
        sync_dir(dir)?;
    }
    Ok(deleted)
}

/// Appends lines to the current segment.
pub(crate) fn write_line(file: &mut impl Write, line: &str) -> io::Result<u64> {
    file.write_all(line.as_bytes())?;
    fail::fail_point!("journal.append");
    file.write_all(b"\n")?;
    Ok(line.len() as u64 + 1)
}
