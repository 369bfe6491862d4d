//! The embedder benchmark (what `gridkb bench embed` prints).
//!
//!     cargo run -p embed --release --example bench [-- MODEL_DIR] [--json] [--threads 1,2]
//!         [--queries N] [--passages N]
//!     GRIDKB_EMBED_BACKEND=candle cargo run -p embed --release --example bench   # candle's BertModel

use std::path::PathBuf;

use embed::{BenchOptions, EmbedConfig, Embedder};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let mut opts = BenchOptions::default();
    if let Some(t) = value("--threads") {
        opts.threads = t.split(',').filter_map(|x| x.parse().ok()).collect();
    }
    if let Some(n) = value("--queries").and_then(|n| n.parse().ok()) {
        opts.queries = n;
    }
    if let Some(n) = value("--passages").and_then(|n| n.parse().ok()) {
        opts.passages = n;
    }
    let dir = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with("--") && (*i == 0 || !args[i - 1].starts_with("--") || args[i - 1] == "--json"))
        .map(|(_, a)| a)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(embed::DEFAULT_MODEL_DIR));
    let run = || -> embed::Result<()> {
        let embedder = Embedder::load(&dir, &EmbedConfig::default())?;
        let report = embed::bench(&embedder, &opts)?;
        if json {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        } else {
            print!("{report}");
        }
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
