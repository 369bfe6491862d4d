//! Sentence embeddings for gridkb: any BERT-family encoder directory (m3e, bge-*-zh, text2vec)
//! run on the CPU with candle, and a persistent cache of the vectors.
//!
//! candle loads the weights; by default gridkb's own encoder forward pass runs them (packed
//! weights, a run-time-dispatched SIMD GEMM, fused ops, no padding: see PERFORMANCE.md), with
//! candle's `BertModel` selectable for comparison ([`Backend`], `GRIDKB_EMBED_BACKEND=candle`).
//! [`bench`] measures both.
//!
//! Architecture invariant: the only crate that imports candle and tokenizers. A model is a
//! directory; pooling, normalisation and instruction prefixes are configuration
//! ([`EmbedConfig`], `gridkb.json` in the model directory), never code.

pub mod bench;
pub mod cache;
pub mod config;
mod embedder;
mod error;
mod fast;

pub use bench::{BenchOptions, BenchReport, bench};
pub use cache::{CacheStats, EmbeddingCache};
pub use config::{
    BACKEND_ENV, Backend, DEFAULT_QUERY_PRECISION, EmbedConfig, LongText, MODEL_CONFIG_FILE, PRECISION_ENV, Pooling,
    Precision, QUERY_PRECISION_ENV, Settings,
};
pub use embedder::{Embedder, normalize};
pub use error::{Error, Result};

/// Where the default model lives, relative to the workspace root (see scripts/fetch-model.sh).
pub const DEFAULT_MODEL_DIR: &str = "models/m3e-small";
