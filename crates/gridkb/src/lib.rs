//! What the `gridkb` binary shares with its tests: the crash points with the soak that kills the
//! binary at them, and the evaluation — the labelled datasets, the runs over them and the metric
//! arithmetic — that the ranking regression test (`tests/ranking.rs`) runs as `gridkb eval` does.
//! (The data directory's file names, the binary's own included, are `search::DataLayout`'s.)

pub mod crash;
pub mod eval;
pub mod labelled;
/// The metric arithmetic lives with the engine, which tunes with it (`search::metrics`).
pub use search::metrics;
