//! The journal's bounds, carried in `search::Limits` with every other bound.

use std::time::Duration;

/// Days of requests and feedback kept; older segments are deleted.
pub const RETENTION_DAYS: u32 = 90;
/// Most bytes the journal's segments may take on disk; the oldest are deleted past it.
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;
/// A segment is closed and a new one begun past this size (so deleting the oldest frees space
/// in small steps).
pub const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;
/// Buffered events reach the operating system at least this often: the most a crash of the
/// process loses.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Events waiting for the writer; past this, request events are dropped (and counted) rather
/// than slowing a search down.
pub const QUEUE: usize = 65_536;
/// Longest feedback comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;

/// The journal's limits in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLimits {
    pub retention_days: u32,
    pub max_bytes: u64,
    pub segment_bytes: u64,
    pub flush_interval: Duration,
    pub queue: usize,
    pub max_comment_chars: usize,
}

impl Default for JournalLimits {
    fn default() -> Self {
        JournalLimits {
            retention_days: RETENTION_DAYS,
            max_bytes: MAX_BYTES,
            segment_bytes: SEGMENT_BYTES,
            flush_interval: FLUSH_INTERVAL,
            queue: QUEUE,
            max_comment_chars: MAX_COMMENT_CHARS,
        }
    }
}
