//! Shared by the tests that need the default model.

use std::path::PathBuf;

use embed::{EmbedConfig, Embedder};

/// `models/m3e-small` at the workspace root. Fails (does not skip) when it is missing.
pub fn model_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join(embed::DEFAULT_MODEL_DIR);
    assert!(
        dir.join("config.json").is_file() && dir.join("tokenizer.json").is_file(),
        "the default model is missing at {}: run scripts/fetch-model.sh from the repository root, then run the tests again",
        dir.display()
    );
    dir
}

#[allow(dead_code)]
pub fn load(config: &EmbedConfig) -> Embedder {
    Embedder::load(&model_dir(), config).expect("load models/m3e-small")
}

#[allow(dead_code)]
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
    let na: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// The default configuration with queries in f32 (the default runs them in int8): for the tests
/// that hold query vectors to f32 agreement.
#[allow(dead_code)]
pub fn f32_queries() -> EmbedConfig {
    EmbedConfig { query_precision: Some(embed::Precision::F32), ..EmbedConfig::default() }
}
