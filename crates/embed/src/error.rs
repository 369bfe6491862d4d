//! Errors of the embedding crate. Every message says what to do about it.

use std::path::PathBuf;

/// Why loading a model, embedding or using the cache failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "model directory {dir} does not exist; run scripts/fetch-model.sh for the default model (m3e-small), or point gridkb at a BERT model directory (config.json, tokenizer.json, model.safetensors or pytorch_model.bin)"
    )]
    NoModelDir { dir: PathBuf },

    #[error(
        "model directory {dir} has no {file}; run scripts/fetch-model.sh, or copy the model's {file} into that directory"
    )]
    MissingFile { dir: PathBuf, file: &'static str },

    #[error(
        "model directory {dir} has no weights (model.safetensors or pytorch_model.bin); run scripts/fetch-model.sh, or copy the model's weights into that directory"
    )]
    NoWeights { dir: PathBuf },

    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "cannot load the weights in {path} as a BERT model: {message}; gridkb runs BERT-family encoders (m3e, bge-*-zh, text2vec); check that config.json says model_type bert"
    )]
    Weights { path: PathBuf, message: String },

    #[error("invalid embedding configuration: {0}")]
    Config(String),

    #[error("tokenizer failed: {0}")]
    Tokenizer(String),

    #[error("model forward pass failed: {0}")]
    Forward(#[from] candle_core::Error),

    #[error("model forward pass failed: {0}")]
    Encoder(String),

    #[error("embedding cache {path}: {message}; delete the cache file to start it afresh (it is only a cache)")]
    Cache { path: PathBuf, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
