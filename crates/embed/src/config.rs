//! How a model directory is turned into sentence vectors: pooling, normalisation, instruction
//! prefixes, window length, long texts, batching.
//!
//! Each setting is resolved, first match wins, from
//! 1. the explicit [`EmbedConfig`] given to [`crate::Embedder::load`],
//! 2. `gridkb.json` in the model directory ([`MODEL_CONFIG_FILE`]),
//! 3. sentence-transformers metadata in the model directory, when present
//!    (`1_Pooling/config.json`, `sentence_bert_config.json`, `config_sentence_transformers.json`),
//! 4. the defaults, which are right for m3e-small: mean pooling, L2-normalised, no prefixes,
//!    windows of the model's maximum length, long texts embedded as the mean of their windows.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Optional per-model settings file, read from the model directory.
///
/// ```json
/// { "pooling": "cls", "normalize": true,
///   "query_prefix": "为这个句子生成表示以用于检索相关文章：" }
/// ```
pub const MODEL_CONFIG_FILE: &str = "gridkb.json";

/// Default number of windows run through the model together.
pub const DEFAULT_BATCH_SIZE: usize = 32;
/// Default cap on the padded tokens of one batch (batch rows × longest row), bounding memory.
pub const DEFAULT_MAX_BATCH_TOKENS: usize = 8192;

/// How the token vectors of one window become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Mean of all token vectors, special tokens included (sentence-transformers' mean).
    Mean,
    /// The vector of the first token ([CLS]), as bge models are trained.
    Cls,
}

/// What a passage longer than one window becomes (see [`crate::Embedder::embed_documents`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LongText {
    /// Split into consecutive windows; the passage vector is the mean of the window vectors,
    /// weighted by their share of the tokens, normalised again. One vector per document.
    Mean,
    /// Keep only the first window (what sentence-transformers does: it truncates).
    First,
    /// Best passage: every window is its own vector, and a document scores by its best window
    /// (the vector index keeps them as parts of one document).
    Windows,
}

impl LongText {
    /// The name used in configuration and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LongText::Mean => "mean",
            LongText::First => "first",
            LongText::Windows => "windows",
        }
    }
}

impl std::fmt::Display for LongText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LongText {
    type Err = String;

    /// `mean`, `first` or `windows`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        [LongText::Mean, LongText::First, LongText::Windows]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not a long-text mode; use mean, first or windows"))
    }
}

/// Which forward pass runs the encoder. Both give the same vectors (cosine ≥ 0.99999), so the
/// backend is not part of the model id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// gridkb's own encoder on candle-loaded weights (crate::fast): packed weights, SIMD GEMM
    /// chosen at run time, fused ops, no padding. Falls back to `Candle` for a model it does not
    /// run (an activation other than erf GELU).
    #[default]
    Fast,
    /// candle-transformers' `BertModel`, for comparison.
    Candle,
}

/// Environment variable that picks the backend (`fast` or `candle`) when [`EmbedConfig`] does not.
pub const BACKEND_ENV: &str = "GRIDKB_EMBED_BACKEND";

/// The arithmetic of the fast encoder's linear layers (q/k/v, attention output, FFN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// 32-bit floats: agrees with sentence-transformers to cosine ≥ 0.9999.
    #[default]
    F32,
    /// 8-bit integers: weights quantised per output channel at load, activations per token as
    /// each product runs, exact integer sums on AVX-512 VNNI, AVX2 or portable kernels (the same
    /// vectors on every CPU). Vectors differ slightly from f32 ones, so the precision is part of
    /// the model id. Runs in f32 with the candle backend.
    Int8,
}

/// Queries run in int8 unless told otherwise: 3× less time per query embedding on AVX-512 VNNI,
/// 2.4× on AVX2, and on the ticket dev split the same fused nDCG@10 to four places (m3e-small:
/// dense −0.0004, fused 0.0000; `crates/embed/PERFORMANCE.md`). Passages, and so the stored
/// vectors and the model id, stay f32.
pub const DEFAULT_QUERY_PRECISION: Precision = Precision::Int8;

impl Precision {
    /// The name used in configuration and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    /// `f32` or `int8`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        [Precision::F32, Precision::Int8]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not a precision; use f32 or int8"))
    }
}

/// Environment variable that picks the precision (`f32` or `int8`) when [`EmbedConfig`] does not.
pub const PRECISION_ENV: &str = "GRIDKB_EMBED_PRECISION";
/// Environment variable that picks the precision of queries only.
pub const QUERY_PRECISION_ENV: &str = "GRIDKB_EMBED_QUERY_PRECISION";

/// Settings given by the caller; `None` leaves the decision to the model directory or the
/// default. `EmbedConfig::default()` is right for any model directory with sensible metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedConfig {
    pub pooling: Option<Pooling>,
    pub normalize: Option<bool>,
    /// Prepended to every query (bge-zh: `为这个句子生成表示以用于检索相关文章：`).
    pub query_prefix: Option<String>,
    /// Prepended to every passage (e5: `passage: `).
    pub passage_prefix: Option<String>,
    /// Window length in tokens, special tokens included; at most the model's positions.
    pub max_tokens: Option<usize>,
    pub long_text: Option<LongText>,
    pub batch_size: Option<usize>,
    pub max_batch_tokens: Option<usize>,
    /// The forward pass; unset: `GRIDKB_EMBED_BACKEND`, then `gridkb.json`, then [`Backend::Fast`].
    pub backend: Option<Backend>,
    /// The linear layers' arithmetic; unset: `GRIDKB_EMBED_PRECISION`, then `gridkb.json`, then
    /// [`Precision::F32`].
    pub precision: Option<Precision>,
    /// The arithmetic for queries only (stored vectors are passages, so it is not part of the
    /// model id); unset: `GRIDKB_EMBED_QUERY_PRECISION`, then `gridkb.json`, then `precision`
    /// when that was set, then [`DEFAULT_QUERY_PRECISION`].
    pub query_precision: Option<Precision>,
}

impl EmbedConfig {
    /// Fills every unset field from `fallback`.
    fn or(self, fallback: EmbedConfig) -> EmbedConfig {
        EmbedConfig {
            pooling: self.pooling.or(fallback.pooling),
            normalize: self.normalize.or(fallback.normalize),
            query_prefix: self.query_prefix.or(fallback.query_prefix),
            passage_prefix: self.passage_prefix.or(fallback.passage_prefix),
            max_tokens: self.max_tokens.or(fallback.max_tokens),
            long_text: self.long_text.or(fallback.long_text),
            batch_size: self.batch_size.or(fallback.batch_size),
            max_batch_tokens: self.max_batch_tokens.or(fallback.max_batch_tokens),
            backend: self.backend.or(fallback.backend),
            precision: self.precision.or(fallback.precision),
            query_precision: self.query_precision.or(fallback.query_precision),
        }
    }
}

/// The settings an [`crate::Embedder`] runs with, every one decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub pooling: Pooling,
    pub normalize: bool,
    pub query_prefix: String,
    pub passage_prefix: String,
    pub max_tokens: usize,
    pub long_text: LongText,
    pub batch_size: usize,
    pub max_batch_tokens: usize,
    pub backend: Backend,
    /// As asked for; [`crate::Embedder::precision`] says what runs.
    pub precision: Precision,
    /// As asked for; [`crate::Embedder::query_precision`] says what runs.
    pub query_precision: Precision,
}

/// Resolves the settings of the model in `dir`; `max_positions` comes from its config.json.
pub(crate) fn resolve(dir: &Path, explicit: &EmbedConfig, max_positions: usize) -> Result<Settings> {
    let from_file = read_model_config(dir)?;
    let from_st = sentence_transformers_metadata(dir)?;
    let from_env = EmbedConfig {
        backend: backend_from_env()?,
        precision: precision_from_env(PRECISION_ENV)?,
        query_precision: precision_from_env(QUERY_PRECISION_ENV)?,
        ..Default::default()
    };
    let c = explicit.clone().or(from_env).or(from_file).or(from_st);
    let max_tokens = c.max_tokens.unwrap_or(max_positions);
    if max_tokens < 8 || max_tokens > max_positions {
        return Err(Error::Config(format!(
            "max_tokens is {max_tokens}; it must be between 8 and the model's {max_positions} positions"
        )));
    }
    let batch_size = c.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
    if batch_size == 0 {
        return Err(Error::Config("batch_size must be at least 1".into()));
    }
    let max_batch_tokens = c.max_batch_tokens.unwrap_or(DEFAULT_MAX_BATCH_TOKENS);
    if max_batch_tokens < max_tokens {
        return Err(Error::Config(format!(
            "max_batch_tokens ({max_batch_tokens}) must be at least max_tokens ({max_tokens})"
        )));
    }
    Ok(Settings {
        pooling: c.pooling.unwrap_or(Pooling::Mean),
        normalize: c.normalize.unwrap_or(true),
        query_prefix: c.query_prefix.unwrap_or_default(),
        passage_prefix: c.passage_prefix.unwrap_or_default(),
        max_tokens,
        long_text: c.long_text.unwrap_or(LongText::Mean),
        batch_size,
        max_batch_tokens,
        backend: c.backend.unwrap_or_default(),
        precision: c.precision.unwrap_or_default(),
        query_precision: c.query_precision.or(c.precision).unwrap_or(DEFAULT_QUERY_PRECISION),
    })
}

fn precision_from_env(var: &str) -> Result<Option<Precision>> {
    match std::env::var(var) {
        Err(_) => Ok(None),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v.parse().map(Some).map_err(|e| Error::Config(format!("{var}: {e}"))),
    }
}

fn backend_from_env() -> Result<Option<Backend>> {
    match std::env::var(BACKEND_ENV) {
        Err(_) => Ok(None),
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => serde_json::from_value(serde_json::Value::String(v.to_lowercase()))
            .map(Some)
            .map_err(|_| Error::Config(format!("{BACKEND_ENV} is {v:?}; it must be \"fast\" or \"candle\""))),
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::Io { path: path.to_owned(), source }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::BadFile { path: path.to_owned(), message: format!("not the expected JSON: {e}") })
}

fn read_model_config(dir: &Path) -> Result<EmbedConfig> {
    Ok(read_json::<EmbedConfig>(&dir.join(MODEL_CONFIG_FILE))?.unwrap_or_default())
}

/// What sentence-transformers' own files say about pooling, window length and query prompt.
fn sentence_transformers_metadata(dir: &Path) -> Result<EmbedConfig> {
    #[derive(Deserialize)]
    struct PoolingFile {
        #[serde(default)]
        pooling_mode_cls_token: bool,
        #[serde(default)]
        pooling_mode_mean_tokens: bool,
        #[serde(default)]
        pooling_mode: Option<String>,
    }
    #[derive(Deserialize)]
    struct BertConfigFile {
        max_seq_length: Option<usize>,
    }
    #[derive(Deserialize)]
    struct StConfigFile {
        #[serde(default)]
        prompts: std::collections::BTreeMap<String, String>,
    }
    let mut out = EmbedConfig::default();
    if let Some(p) = read_json::<PoolingFile>(&dir.join("1_Pooling").join("config.json"))? {
        out.pooling = match p.pooling_mode.as_deref() {
            Some("cls") => Some(Pooling::Cls),
            Some("mean") => Some(Pooling::Mean),
            _ if p.pooling_mode_cls_token => Some(Pooling::Cls),
            _ if p.pooling_mode_mean_tokens => Some(Pooling::Mean),
            _ => None,
        };
    }
    if let Some(c) = read_json::<BertConfigFile>(&dir.join("sentence_bert_config.json"))? {
        out.max_tokens = c.max_seq_length;
    }
    if let Some(c) = read_json::<StConfigFile>(&dir.join("config_sentence_transformers.json"))? {
        out.query_prefix = c.prompts.get("query").cloned();
        out.passage_prefix = c.prompts.get("document").or(c.prompts.get("passage")).cloned();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_suit_m3e() {
        let dir = tempfile::tempdir().unwrap();
        let s = resolve(dir.path(), &EmbedConfig::default(), 512).unwrap();
        assert_eq!(s.pooling, Pooling::Mean);
        assert!(s.normalize);
        assert_eq!(s.query_prefix, "");
        assert_eq!(s.max_tokens, 512);
        assert_eq!(s.long_text, LongText::Mean);
    }

    #[test]
    fn explicit_beats_file_beats_sentence_transformers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        std::fs::write(dir.path().join("1_Pooling/config.json"), r#"{"pooling_mode_cls_token": true}"#).unwrap();
        std::fs::write(dir.path().join("sentence_bert_config.json"), r#"{"max_seq_length": 256}"#).unwrap();
        let s = resolve(dir.path(), &EmbedConfig::default(), 512).unwrap();
        assert_eq!((s.pooling, s.max_tokens), (Pooling::Cls, 256));

        std::fs::write(dir.path().join(MODEL_CONFIG_FILE), r#"{"pooling": "mean", "query_prefix": "查询："}"#).unwrap();
        let s = resolve(dir.path(), &EmbedConfig::default(), 512).unwrap();
        assert_eq!((s.pooling, s.query_prefix.as_str()), (Pooling::Mean, "查询："));

        let explicit = EmbedConfig { pooling: Some(Pooling::Cls), max_tokens: Some(128), ..Default::default() };
        let s = resolve(dir.path(), &explicit, 512).unwrap();
        assert_eq!((s.pooling, s.max_tokens, s.query_prefix.as_str()), (Pooling::Cls, 128, "查询："));
    }

    #[test]
    fn long_text_modes_parse_by_the_names_serde_uses() {
        for mode in [LongText::Mean, LongText::First, LongText::Windows] {
            assert_eq!(mode.to_string().parse::<LongText>(), Ok(mode));
            assert_eq!(serde_json::to_value(mode).unwrap(), serde_json::Value::from(mode.name()));
        }
        assert!("best".parse::<LongText>().unwrap_err().contains("mean, first or windows"));
        for p in [Precision::F32, Precision::Int8] {
            assert_eq!(p.to_string().parse::<Precision>(), Ok(p));
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::Value::from(p.name()));
        }
        assert!("bf16".parse::<Precision>().unwrap_err().contains("f32 or int8"));
    }

    #[test]
    fn bad_settings_are_refused_with_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let too_long = EmbedConfig { max_tokens: Some(1024), ..Default::default() };
        let e = resolve(dir.path(), &too_long, 512).unwrap_err().to_string();
        assert!(e.contains("512 positions"), "{e}");
        std::fs::write(dir.path().join(MODEL_CONFIG_FILE), r#"{"pooling": "max"}"#).unwrap();
        let e = resolve(dir.path(), &EmbedConfig::default(), 512).unwrap_err().to_string();
        assert!(e.contains("gridkb.json") && e.contains("unknown variant"), "{e}");
    }
}
