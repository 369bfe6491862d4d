//! Exact scan against the HNSW graph at gridkb's sizes: build time, query latency and recall@10.
//!
//! cargo run -p vectors --release --example scan_vs_graph -- [N] [DIM] [M] [EF_CONSTRUCTION]
//!
//! With M = 0 only the exact scan is measured.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use vectors::{IndexParams, VectorIndex};

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
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let n = args.first().copied().unwrap_or(14_000);
    let dim = args.get(1).copied().unwrap_or(512);
    let params = IndexParams {
        max_connections: args.get(2).copied().unwrap_or(vectors::DEFAULT_MAX_CONNECTIONS).max(2),
        ef_construction: args.get(3).copied().unwrap_or(vectors::DEFAULT_EF_CONSTRUCTION),
        exact_threshold: usize::MAX,
        ..IndexParams::default()
    };
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
        let data: Vec<(String, Vec<f32>)> = (0..n).map(|i| (format!("doc-{i}"), point(&mut rng))).collect();
        let queries: Vec<Vec<f32>> = (0..200).map(|_| point(&mut rng)).collect();
        let mut index = VectorIndex::new("bench", dim, params).unwrap();
        index.upsert_many(data.iter().map(|(id, v)| (id.as_str(), v.as_slice()))).unwrap();
        let graph = args.get(2) != Some(&0);
        let t = Instant::now();
        if graph {
            index.build_graph();
        }
        println!(
            "{name}: {n} x {dim}, M {} ef_c {}: graph build {:.1?}",
            params.max_connections,
            params.ef_construction,
            t.elapsed()
        );
        let mut exact_t = Vec::new();
        let mut truth = Vec::new();
        for q in &queries {
            let t = Instant::now();
            let hits = index.search_exact(q, 10).unwrap();
            exact_t.push(t.elapsed());
            truth.push(hits.into_iter().map(|h| h.id).collect::<HashSet<_>>());
        }
        println!("  exact scan: p50 {:.2?} p99 {:.2?}", pct(exact_t.clone(), 0.5), pct(exact_t, 0.99));
        for ef in [32, 64, 128, 256].into_iter().filter(|_| graph) {
            let mut times = Vec::new();
            let mut found = 0;
            for (q, truth) in queries.iter().zip(&truth) {
                let t = Instant::now();
                let hits = index.search_graph(q, 10, ef).unwrap();
                times.push(t.elapsed());
                found += hits.iter().filter(|h| truth.contains(&h.id)).count();
            }
            println!(
                "  graph ef {ef:>3}: p50 {:.2?} p99 {:.2?} recall@10 {:.4}",
                pct(times.clone(), 0.5),
                pct(times, 0.99),
                found as f64 / (10 * queries.len()) as f64
            );
        }
    }
}
