//! Exact scan against the HNSW graph at gridkb's sizes: build time, query latency and recall.
//!
//! cargo run -p vectors --release --example scan_vs_graph -- [N] [DIM] [M] [EF_CONSTRUCTION] [--data uniform|clustered|both]
//!
//! With M = 0 only the exact scan is measured. `--data` picks the synthetic data set (default
//! both: uniform noise, the hardest case for a graph, and clustered points, closer to sentence
//! embeddings). Each set is measured twice: top 10 at ef 32–256 (recall@10), and as the engine
//! asks, the top [`SERVED_K`] with the index's own `search` (ef = max(`DEFAULT_EF_SEARCH`, k)),
//! against the exact top [`SERVED_K`] (recall@200). 200 queries each.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use vectors::{IndexParams, VectorIndex};

/// Neighbours a search asks the vector index for: twice the fusion depth of 100
/// (`search::query`, `dense_candidates`).
const SERVED_K: usize = 200;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.unit()).collect()
    }
}

fn pct(mut d: Vec<Duration>, p: f64) -> Duration {
    d.sort();
    d[((d.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let mut numbers: Vec<usize> = Vec::new();
    let mut sets = vec![("uniform", false), ("clustered", true)];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--data" {
            let which = args.next().expect("--data uniform|clustered|both");
            sets.retain(|(name, _)| which == "both" || *name == which);
            assert!(!sets.is_empty(), "--data uniform|clustered|both, not {which}");
        } else {
            numbers.push(arg.parse().expect("numbers: N DIM M EF_CONSTRUCTION"));
        }
    }
    let n = numbers.first().copied().unwrap_or(14_000);
    let dim = numbers.get(1).copied().unwrap_or(512);
    let graph = numbers.get(2) != Some(&0);
    let params = IndexParams {
        max_connections: numbers.get(2).copied().unwrap_or(vectors::DEFAULT_MAX_CONNECTIONS).max(2),
        ef_construction: numbers.get(3).copied().unwrap_or(vectors::DEFAULT_EF_CONSTRUCTION),
        exact_threshold: usize::MAX,
        ..IndexParams::default()
    };
    // The index as served above the threshold: the same graph, searched through `search`.
    let served = IndexParams { exact_threshold: 0, ..params };
    let mut rng = Rng(1);
    // Clustered data, closer to real sentence embeddings than uniform noise: 200 centres, each
    // vector a centre plus noise.
    let centres: Vec<Vec<f32>> = (0..200).map(|_| rng.vector(dim)).collect();
    for (name, clustered) in [("uniform", false), ("clustered", true)] {
        let point = |rng: &mut Rng| -> Vec<f32> {
            let noise = rng.vector(dim);
            if clustered {
                let c = &centres[(rng.next() % 200) as usize];
                c.iter().zip(&noise).map(|(c, x)| c + 0.6 * x).collect()
            } else {
                noise
            }
        };
        // Both sets are drawn (the same stream as before `--data`), only the chosen measured.
        let data: Vec<(String, Vec<f32>)> = (0..n).map(|i| (format!("doc-{i}"), point(&mut rng))).collect();
        let queries: Vec<Vec<f32>> = (0..200).map(|_| point(&mut rng)).collect();
        if !sets.iter().any(|(s, _)| *s == name) {
            continue;
        }
        // With `served` parameters the graph is built inside `upsert_many`, as at a start.
        let mut index = VectorIndex::new("bench", dim, if graph { served } else { params }).unwrap();
        let t = Instant::now();
        index.upsert_many(data.iter().map(|(id, v)| (id.as_str(), v.as_slice()))).unwrap();
        println!(
            "{name}: {n} x {dim}, M {} ef_c {}: load + graph build {:.1?}",
            params.max_connections,
            params.ef_construction,
            t.elapsed()
        );
        drop(data);
        let mut exact_t = Vec::new();
        let mut truth = Vec::new();
        let mut exact_served_t = Vec::new();
        let mut truth_served = Vec::new();
        for q in &queries {
            let t = Instant::now();
            let hits = index.search_exact(q, 10).unwrap();
            exact_t.push(t.elapsed());
            truth.push(hits.into_iter().map(|h| h.id).collect::<HashSet<_>>());
            let t = Instant::now();
            let hits = index.search_exact(q, SERVED_K).unwrap();
            exact_served_t.push(t.elapsed());
            truth_served.push(hits.into_iter().map(|h| h.id).collect::<HashSet<_>>());
        }
        println!("  exact scan k 10:  p50 {:.2?} p99 {:.2?}", pct(exact_t.clone(), 0.5), pct(exact_t, 0.99));
        println!(
            "  exact scan k {SERVED_K}: p50 {:.2?} p99 {:.2?}",
            pct(exact_served_t.clone(), 0.5),
            pct(exact_served_t, 0.99)
        );
        if !graph {
            continue;
        }
        for ef in [32, 64, 128, 256] {
            let mut times = Vec::new();
            let mut found = 0;
            for (q, truth) in queries.iter().zip(&truth) {
                let t = Instant::now();
                let hits = index.search_graph(q, 10, ef).unwrap();
                times.push(t.elapsed());
                found += hits.iter().filter(|h| truth.contains(&h.id)).count();
            }
            println!(
                "  graph k 10 ef {ef:>3}: p50 {:.2?} p99 {:.2?} recall@10 {:.4}",
                pct(times.clone(), 0.5),
                pct(times, 0.99),
                found as f64 / (10 * queries.len()) as f64
            );
        }
        let mut times = Vec::new();
        let mut found = 0;
        for (q, truth) in queries.iter().zip(&truth_served) {
            let t = Instant::now();
            let hits = index.search(q, SERVED_K).unwrap();
            times.push(t.elapsed());
            found += hits.iter().filter(|h| truth.contains(&h.id)).count();
        }
        println!(
            "  graph as served, k {SERVED_K} ef {}: p50 {:.2?} p99 {:.2?} recall@{SERVED_K} {:.4}",
            vectors::DEFAULT_EF_SEARCH.max(SERVED_K),
            pct(times.clone(), 0.5),
            pct(times, 0.99),
            found as f64 / (SERVED_K * queries.len()) as f64
        );
    }
}
