//! What the `gridkb` binary shares with its tests: the crash points with the soak that kills the
//! binary at them. (The data directory's file names, the binary's own included, are
//! `search::DataLayout`'s.)

pub mod crash;
