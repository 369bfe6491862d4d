//! CPU time of the exact scan per query, which (unlike wall time) a busy machine does not move.
//!
//! cargo run -p vectors --release --example scan_cpu -- [N] [K] [DIM]
//! cargo run -p vectors --release --example scan_cpu -- DATA_DIR/vectors [K]
//!
//! N clustered unit vectors (200 centres plus noise), or a saved index (real embeddings, which
//! sit closer together than the noise: their first 500 vectors are the queries), 500 queries of
//! K neighbours each (K 200 is what a fused search fetches); prints the process's user + system time per query, read from
//! /proc/self/stat (Linux), and the wall-time p50. `RAYON_NUM_THREADS=1` measures one core.

use std::time::{Duration, Instant};

use vectors::{IndexParams, VectorIndex};

fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux only)");
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

fn main() {
    let first = std::env::args().nth(1).unwrap_or_default();
    if !first.is_empty() && first.parse::<usize>().is_err() {
        let k = std::env::args().nth(2).map_or(200, |a| a.parse().expect("K, a number"));
        let dir = std::path::Path::new(&first);
        let m = vectors::Manifest::read(dir).expect("a saved vector index (its manifest.json)");
        let index = VectorIndex::open(dir, &m.model_id, m.dimension, IndexParams::default()).expect("open");
        let queries: Vec<Vec<f32>> = index.ids().take(500).map(|id| index.get(id).expect("stored").to_vec()).collect();
        measure(&index, &queries, k, index.len());
        return;
    }
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let n = args.first().copied().unwrap_or(16_338);
    let k = args.get(1).copied().unwrap_or(200);
    let dim = args.get(2).copied().unwrap_or(512);
    let mut state = 1u64;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let centres: Vec<Vec<f32>> = (0..200).map(|_| (0..dim).map(|_| next()).collect()).collect();
    let mut point = |i: usize| -> Vec<f32> { centres[i % 200].iter().map(|c| c + 0.6 * next()).collect() };
    let params = IndexParams { exact_threshold: usize::MAX, ..IndexParams::default() };
    let mut index = VectorIndex::new("bench", dim, params).expect("params");
    let data: Vec<(String, Vec<f32>)> = (0..n).map(|i| (format!("doc-{i}"), point(i))).collect();
    index.upsert_many(data.iter().map(|(id, v)| (id.as_str(), v.as_slice()))).expect("vectors");
    let queries: Vec<Vec<f32>> = (0..500).map(|i| point(i * 7 + 3)).collect();
    measure(&index, &queries, k, n);
}

fn measure(index: &VectorIndex, queries: &[Vec<f32>], k: usize, n: usize) {
    let dim = index.dimension();
    let mut wall: Vec<Duration> = Vec::with_capacity(queries.len());
    let before = cpu_ticks();
    for q in queries {
        let t = Instant::now();
        let hits = index.search_exact(q, k).expect("search");
        wall.push(t.elapsed());
        assert_eq!(hits.len(), k.min(n));
    }
    let ticks = cpu_ticks() - before;
    wall.sort();
    // Linux reports these in clock ticks of 10 ms.
    println!(
        "{n} x {dim}, k {k}: {:.3} CPU-ms per query, wall p50 {:.2?}, load {}",
        ticks as f64 * 10.0 / queries.len() as f64,
        wall[wall.len() / 2],
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').next().unwrap_or("?"),
    );
}
