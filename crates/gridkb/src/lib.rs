//! What the `gridkb` binary shares with its tests: the data directory's file names the binary
//! adds, and the crash points with the soak that kills the binary at them.

pub mod crash;

/// The address a running `serve` listens on, in its data directory.
pub const SERVE_ADDR_FILE: &str = "serve.addr";

/// Present while the first start's corpus ingest has not completed: written (durably) before it
/// starts, removed after it ends. A start that finds it runs the ingest again — unchanged
/// records are no-ops — so a kill during the first start never leaves a half-filled data
/// directory that says ready.
pub const FIRST_START_MARKER: &str = "first-start-ingest.pending";
