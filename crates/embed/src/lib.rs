//! Sentence embeddings for gridkb: any BERT-family encoder directory (m3e, bge-*-zh, text2vec)
//! run on the CPU with candle, and a persistent cache of the vectors.
//!
//! Architecture invariant: the only crate that imports candle and tokenizers. A model is a
//! directory; pooling, normalisation and instruction prefixes are configuration
//! ([`EmbedConfig`], `gridkb.json` in the model directory), never code.

pub mod cache;
pub mod config;
mod embedder;
mod error;

pub use cache::{CacheStats, EmbeddingCache};
pub use config::{EmbedConfig, LongText, MODEL_CONFIG_FILE, Pooling, Settings};
pub use embedder::{Embedder, normalize};
pub use error::{Error, Result};

/// Where the default model lives, relative to the workspace root (see scripts/fetch-model.sh).
pub const DEFAULT_MODEL_DIR: &str = "models/m3e-small";
