//! Time to embed a corpus: counts the tokens of every item (`title\nbody` of JSONL records, as
//! the search crate embeds them), embeds an evenly spread sample and extrapolates.
//!
//!     cargo run -p embed --release --example corpus -- SAMPLE FILE.jsonl...

use std::path::PathBuf;
use std::time::Instant;

use embed::{EmbedConfig, Embedder};

fn main() {
    let mut args = std::env::args().skip(1);
    let sample: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(256);
    let mut texts = Vec::new();
    for path in args {
        for line in std::fs::read_to_string(&path).unwrap_or_default().lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            if let Some(body) = v["body"].as_str() {
                texts.push(format!("{}\n{}", v["title"].as_str().unwrap_or(""), body));
            }
        }
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(embed::DEFAULT_MODEL_DIR);
    let embedder = Embedder::load(&dir, &EmbedConfig::default()).expect("load the model");
    let tokens: Vec<usize> = texts.iter().map(|t| embedder.count_tokens(t).unwrap()).collect();
    let total: usize = tokens.iter().sum();
    let step = (texts.len() / sample.max(1)).max(1);
    let picked: Vec<&str> = texts.iter().step_by(step).map(String::as_str).collect();
    let picked_tokens: usize = tokens.iter().step_by(step).sum();
    let t = Instant::now();
    for chunk in picked.chunks(32) {
        embedder.embed_passages(chunk).unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = picked_tokens as f64 / secs;
    println!(
        "{} items, {} tokens ({:.0} per item); sample of {} items: {:.0} tokens/s ({}); whole corpus ≈ {:.1} min",
        texts.len(),
        total,
        total as f64 / texts.len().max(1) as f64,
        picked.len(),
        rate,
        embedder.kernel(),
        total as f64 / rate / 60.0
    );
}
