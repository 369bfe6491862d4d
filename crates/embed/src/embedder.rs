//! The embedder: a BERT-family encoder loaded with candle, its tokenizer, and the settings that
//! turn token vectors into sentence vectors.

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::Tokenizer;

use crate::config::{self, Backend, EmbedConfig, LongText, Pooling, Precision, Settings};
use crate::error::{Error, Result};
use crate::fast::FastBert;

/// Weight files looked for, in order of preference.
const WEIGHT_FILES: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];

/// The forward pass that was loaded.
enum Model {
    Candle(Box<BertModel>),
    Fast(Box<FastBert>),
}

/// A loaded sentence encoder. `Send + Sync`: share one behind an `Arc`; calls may run
/// concurrently (each uses the rayon pool it is called from — the global one by default — for
/// its matrix products).
pub struct Embedder {
    model: Model,
    /// What the linear layers run in (the settings say what was asked for).
    precision: Precision,
    /// The fast encoder in the query precision, when that is not the passages' one.
    query_model: Option<Box<FastBert>>,
    tokenizer: Tokenizer,
    settings: Settings,
    /// Special tokens the tokenizer puts before and after a single sequence ([CLS] / [SEP]).
    lead: Vec<u32>,
    trail: Vec<u32>,
    pad_id: u32,
    dim: usize,
    intermediate: usize,
    layers: usize,
    id: String,
    /// The id of a vector made from a single window: the same under every [`LongText`] mode.
    window_id: String,
    dir: PathBuf,
    device: Device,
}

impl fmt::Debug for Embedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Embedder")
            .field("id", &self.id)
            .field("dir", &self.dir)
            .field("dim", &self.dim)
            .field("settings", &self.settings)
            .field("backend", &self.backend())
            .field("precision", &self.precision)
            .field("query_precision", &self.query_precision())
            .finish_non_exhaustive()
    }
}

/// Which side of retrieval a text is on: it decides the instruction prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Query,
    Passage,
}

impl Embedder {
    /// Loads the model directory `dir`: `config.json` (a BERT config), `tokenizer.json`, and
    /// `model.safetensors` or `pytorch_model.bin`. Settings are resolved as described in
    /// [`crate::config`].
    pub fn load(dir: &Path, config: &EmbedConfig) -> Result<Embedder> {
        if !dir.is_dir() {
            return Err(Error::NoModelDir { dir: dir.to_owned() });
        }
        let config_path = dir.join("config.json");
        let tokenizer_path = dir.join("tokenizer.json");
        for (path, file) in [(&config_path, "config.json"), (&tokenizer_path, "tokenizer.json")] {
            if !path.is_file() {
                return Err(Error::MissingFile { dir: dir.to_owned(), file });
            }
        }
        let weights = WEIGHT_FILES
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
            .ok_or_else(|| Error::NoWeights { dir: dir.to_owned() })?;

        let config_bytes = read(&config_path)?;
        let bert: BertConfig = serde_json::from_slice(&config_bytes).map_err(|e| Error::BadFile {
            path: config_path.clone(),
            message: format!("not a BERT config.json: {e}"),
        })?;
        let settings = config::resolve(dir, config, bert.max_position_embeddings)?;

        let tokenizer_bytes = read(&tokenizer_path)?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes).map_err(|e| Error::BadFile {
            path: tokenizer_path.clone(),
            message: format!("not a tokenizer.json the tokenizers crate can load: {e}"),
        })?;
        // Windows are cut by us; padding is done per batch.
        tokenizer.with_truncation(None).map_err(|e| Error::Tokenizer(e.to_string()))?.with_padding(None);
        let (lead, trail) = special_tokens(&tokenizer)?;
        if lead.len() + trail.len() + 1 >= settings.max_tokens {
            return Err(Error::Config(format!("max_tokens {} leaves no room for text", settings.max_tokens)));
        }

        let device = Device::Cpu;
        let weights_error = |e: candle_core::Error| Error::Weights { path: weights.clone(), message: e.to_string() };
        let vb = if weights.extension().is_some_and(|e| e == "safetensors") {
            VarBuilder::from_buffered_safetensors(read(&weights)?, DType::F32, &device).map_err(weights_error)?
        } else {
            VarBuilder::from_pth(&weights, DType::F32, &device).map_err(weights_error)?
        };
        let (model, query_model) = if settings.backend == Backend::Fast && FastBert::supports(&bert) {
            let passages = FastBert::load(&vb, &bert, settings.precision).map_err(weights_error)?;
            // A second encoder only when queries really run in another precision.
            let queries = if settings.query_precision == settings.precision {
                None
            } else {
                let q = FastBert::load(&vb, &bert, settings.query_precision).map_err(weights_error)?;
                (q.precision() != passages.precision()).then(|| Box::new(q))
            };
            (Model::Fast(Box::new(passages)), queries)
        } else {
            if settings.backend == Backend::Fast {
                tracing::info!(act = ?bert.hidden_act, "the fast encoder does not run this activation; using candle's");
            }
            if settings.precision != Precision::F32 || settings.query_precision != Precision::F32 {
                tracing::info!(precision = %settings.precision, "candle's encoder runs in f32 only");
            }
            (Model::Candle(Box::new(BertModel::load(vb, &bert).map_err(weights_error)?)), None)
        };
        let precision = match &model {
            Model::Fast(f) => f.precision(),
            Model::Candle(_) => Precision::F32,
        };

        let id = model_id(dir, &config_bytes, &tokenizer_bytes, &weights, &settings, precision)?;
        // Long texts are cut and combined only under the default mode's id, so the window id is
        // the default mode's model id: caches filled under the default stay valid for it.
        let window_id = if settings.long_text == LongText::Mean {
            id.clone()
        } else {
            let as_default = Settings { long_text: LongText::Mean, ..settings.clone() };
            model_id(dir, &config_bytes, &tokenizer_bytes, &weights, &as_default, precision)?
        };
        let embedder = Embedder {
            model,
            precision,
            query_model,
            tokenizer,
            settings,
            lead,
            trail,
            pad_id: u32::try_from(bert.pad_token_id).unwrap_or(0),
            dim: bert.hidden_size,
            intermediate: bert.intermediate_size,
            layers: bert.num_hidden_layers,
            id,
            window_id,
            dir: dir.to_owned(),
            device,
        };
        tracing::info!(model = %embedder.id, dim = embedder.dim, settings = ?embedder.settings, "embedding model loaded");
        Ok(embedder)
    }

    /// Identifies the model and every setting that changes a passage vector:
    /// `<directory name>-<12 hex digits>`. Vectors with different ids must not be mixed.
    pub fn model_id(&self) -> &str {
        &self.id
    }

    /// Identifies the vector of a passage that fits in one window ([`Self::fits_one_window`]):
    /// every [`LongText`] mode gives such a passage the same single vector, so vectors stored
    /// under this id may be shared between modes (the embedding cache does). Equal to
    /// [`Self::model_id`] under the default mode, [`LongText::Mean`].
    pub fn window_id(&self) -> &str {
        &self.window_id
    }

    /// Whether the passage `text` (with the passage prefix) fits in one window, so that its
    /// vector does not depend on the [`LongText`] mode.
    pub fn fits_one_window(&self, text: &str) -> Result<bool> {
        let ids = self.prefixed(text, Side::Passage)?;
        Ok(ids.len() <= self.budget())
    }

    /// The forward pass in use (`Candle` also when `Fast` was asked for a model it cannot run).
    pub fn backend(&self) -> Backend {
        match self.model {
            Model::Candle(_) => Backend::Candle,
            Model::Fast(_) => Backend::Fast,
        }
    }

    /// The instruction set of the fast encoder's kernels (`avx512f`, `avx2+fma`, `portable`,
    /// `avx512-vnni int8`), or `candle` for the candle backend.
    pub fn kernel(&self) -> &'static str {
        match &self.model {
            Model::Candle(_) => "candle",
            Model::Fast(f) => f.kernel(),
        }
    }

    /// The precision the encoder runs passages in: the one asked for, or f32 where that is not
    /// available (int8 on the candle backend).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The precision the encoder runs queries in.
    pub fn query_precision(&self) -> Precision {
        self.query_model.as_ref().map_or(self.precision, |q| q.precision())
    }

    /// Multiply-adds ×2 of one forward pass of a `tokens`-long window: the FLOP count the
    /// benchmark divides by.
    pub fn flops_per_window(&self, tokens: usize) -> f64 {
        let (h, i, l) = (self.dim as f64, self.intermediate as f64, self.layers as f64);
        let n = tokens as f64;
        2.0 * l * n * (4.0 * h * h + 2.0 * h * i + 2.0 * n * h)
    }

    /// Length of the vectors.
    pub fn dimension(&self) -> usize {
        self.dim
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Tokens of `text` as the model sees it (special tokens included, before windowing).
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.encode(text)?.len() + self.lead.len() + self.trail.len())
    }

    /// One vector per query, with the query prefix.
    pub fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_combined(texts, Side::Query)
    }

    /// The vector of one query.
    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        Ok(self.embed_queries(&[text])?.pop().unwrap_or_default())
    }

    /// One vector per passage, with the passage prefix. A passage longer than one window is
    /// the token-weighted mean of its windows ([`LongText::Mean`] and [`LongText::Windows`]) or
    /// its first window ([`LongText::First`]).
    pub fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_combined(texts, Side::Passage)
    }

    /// The vectors to index for each document text, as configured by [`LongText`]: one vector
    /// (`Mean`, `First`), or one per window (`Windows`, for best-passage scoring: store them as
    /// the parts of one document in the vector index). A text within one window always has
    /// exactly one vector.
    pub fn embed_documents(&self, texts: &[&str]) -> Result<Vec<Vec<Vec<f32>>>> {
        if self.settings.long_text != LongText::Windows {
            return Ok(self.embed_passages(texts)?.into_iter().map(|v| vec![v]).collect());
        }
        let (windows, owners) = self.windows(texts, Side::Passage, false)?;
        let vectors = self.run(&windows, Side::Passage)?;
        let mut out: Vec<Vec<Vec<f32>>> = vec![Vec::new(); texts.len()];
        for (v, &(owner, _)) in vectors.into_iter().zip(&owners) {
            out[owner].push(v);
        }
        Ok(out)
    }

    fn embed_combined(&self, texts: &[&str], side: Side) -> Result<Vec<Vec<f32>>> {
        let first_only = self.settings.long_text == LongText::First;
        let (windows, owners) = self.windows(texts, side, first_only)?;
        let vectors = self.run(&windows, side)?;
        let mut sums: Vec<(Vec<f64>, f64, usize)> = vec![(vec![0.0; self.dim], 0.0, 0); texts.len()];
        let mut single: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (v, &(owner, weight)) in vectors.into_iter().zip(&owners) {
            let (sum, total, n) = &mut sums[owner];
            *n += 1;
            *total += weight;
            for (s, x) in sum.iter_mut().zip(&v) {
                *s += f64::from(*x) * weight;
            }
            single[owner] = Some(v);
        }
        let out = sums
            .into_iter()
            .zip(single)
            .map(|((sum, total, n), single)| match (n, single) {
                (1, Some(v)) => v,
                _ => {
                    let mut v: Vec<f32> = sum.iter().map(|s| (s / total) as f32).collect();
                    if self.settings.normalize {
                        normalize(&mut v);
                    }
                    v
                }
            })
            .collect();
        Ok(out)
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.tokenizer.encode_fast(text, false).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Tokens of the text with its side's prefix, as sentence-transformers tokenises them
    /// (together), without special tokens.
    fn prefixed(&self, text: &str, side: Side) -> Result<Vec<u32>> {
        let prefix = self.prefix(side);
        if prefix.is_empty() { self.encode(text) } else { self.encode(&format!("{prefix}{text}")) }
    }

    fn prefix(&self, side: Side) -> &str {
        match side {
            Side::Query => &self.settings.query_prefix,
            Side::Passage => &self.settings.passage_prefix,
        }
    }

    /// Tokens of text (prefix included) that fit in one window beside the special tokens.
    fn budget(&self) -> usize {
        self.settings.max_tokens - self.lead.len() - self.trail.len()
    }

    /// Cuts every text into windows of at most `max_tokens` tokens, each carrying the prefix
    /// and the special tokens. Returns the windows and, for each, (text index, weight) where the
    /// weight is its share of the text's tokens.
    #[allow(clippy::type_complexity)]
    fn windows(&self, texts: &[&str], side: Side, first_only: bool) -> Result<(Vec<Vec<u32>>, Vec<(usize, f64)>)> {
        let prefix = self.prefix(side);
        let prefix_ids = if prefix.is_empty() { Vec::new() } else { self.encode(prefix)? };
        let budget = self.budget();
        let mut windows = Vec::with_capacity(texts.len());
        let mut owners = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            // The prefix and the text are tokenised together, as sentence-transformers does.
            let ids = self.prefixed(text, side)?;
            if ids.len() <= budget || first_only {
                windows.push(self.wrap(&ids[..ids.len().min(budget)]));
                owners.push((i, 1.0));
                continue;
            }
            // Long text: every window repeats the prefix, then carries the next slice of text.
            let p = if ids.starts_with(&prefix_ids) { prefix_ids.len() } else { 0 };
            let step = budget.saturating_sub(p).max(1);
            let body = &ids[p..];
            for chunk in body.chunks(step) {
                let mut w = Vec::with_capacity(p + chunk.len());
                w.extend_from_slice(&ids[..p]);
                w.extend_from_slice(chunk);
                windows.push(self.wrap(&w));
                owners.push((i, chunk.len() as f64 / body.len() as f64));
            }
        }
        Ok((windows, owners))
    }

    fn wrap(&self, ids: &[u32]) -> Vec<u32> {
        let mut w = Vec::with_capacity(self.lead.len() + ids.len() + self.trail.len());
        w.extend_from_slice(&self.lead);
        w.extend_from_slice(ids);
        w.extend_from_slice(&self.trail);
        w
    }

    /// Runs the windows through the model in batches of similar length (longest first, so the
    /// padding is small) and returns one pooled vector per window, in input order.
    fn run(&self, windows: &[Vec<u32>], side: Side) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(windows[i].len()));
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); windows.len()];
        let mut start = 0;
        while start < order.len() {
            let longest = windows[order[start]].len().max(1);
            let rows = self.settings.batch_size.min(self.settings.max_batch_tokens / longest).max(1);
            let end = (start + rows).min(order.len());
            let batch: Vec<&[u32]> = order[start..end].iter().map(|&i| windows[i].as_slice()).collect();
            for (v, &i) in self.forward(&batch, side)?.into_iter().zip(&order[start..end]) {
                out[i] = v;
            }
            start = end;
        }
        Ok(out)
    }

    /// One batch through the encoder, then pooling and normalisation.
    fn forward(&self, batch: &[&[u32]], side: Side) -> Result<Vec<Vec<f32>>> {
        let fast = match (&self.query_model, side, &self.model) {
            (Some(q), Side::Query, _) => Ok(&**q),
            (_, _, Model::Fast(f)) => Ok(&**f),
            (_, _, Model::Candle(m)) => Err(m),
        };
        let model = match fast {
            Err(m) => m,
            Ok(f) => {
                let mut vectors = f.forward(batch, self.settings.pooling).map_err(Error::Encoder)?;
                if self.settings.normalize {
                    vectors.iter_mut().for_each(|v| normalize(v));
                }
                return Ok(vectors);
            }
        };
        let rows = batch.len();
        let len = batch.iter().map(|w| w.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows * len);
        let mut mask = Vec::with_capacity(rows * len);
        for w in batch {
            ids.extend_from_slice(w);
            ids.extend(std::iter::repeat_n(self.pad_id, len - w.len()));
            mask.extend(std::iter::repeat_n(1u32, w.len()));
            mask.extend(std::iter::repeat_n(0u32, len - w.len()));
        }
        let ids = Tensor::from_vec(ids, (rows, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, len), &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = model.forward(&ids, &types, Some(&mask))?;
        let pooled = match self.settings.pooling {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Mean => {
                let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let summed = hidden.broadcast_mul(&m)?.sum(1)?;
                let counts = m.sum(1)?;
                summed.broadcast_div(&counts)?
            }
        };
        let mut vectors = pooled.to_vec2::<f32>()?;
        if self.settings.normalize {
            vectors.iter_mut().for_each(|v| normalize(v));
        }
        Ok(vectors)
    }
}

/// L2-normalises `v` in place (computed in f64); a zero vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x = (f64::from(*x) / norm) as f32);
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io { path: path.to_owned(), source })
}

/// The special tokens the tokenizer adds before and after a single sequence.
fn special_tokens(tokenizer: &Tokenizer) -> Result<(Vec<u32>, Vec<u32>)> {
    let enc = tokenizer.encode_fast("中", true).map_err(|e| Error::Tokenizer(e.to_string()))?;
    let (ids, special) = (enc.get_ids(), enc.get_special_tokens_mask());
    let lead = special.iter().take_while(|&&s| s == 1).count();
    let trail = special.iter().rev().take_while(|&&s| s == 1).count();
    if lead + trail >= ids.len() {
        return Err(Error::Tokenizer("the tokenizer produced only special tokens for a one-character text".into()));
    }
    Ok((ids[..lead].to_vec(), ids[ids.len() - trail..].to_vec()))
}

/// `<dir name>-<blake3 prefix>` over config.json, tokenizer.json, the weights (name, size and
/// three 64 KiB samples: reading all of a large file at every start would cost time) and the
/// settings that shape passage vectors, the precision that runs included (only when not f32, so
/// that f32 ids are what they were before there was a choice). The query prefix is left out: it
/// changes no stored vector.
fn model_id(
    dir: &Path,
    config: &[u8],
    tokenizer: &[u8],
    weights: &Path,
    s: &Settings,
    precision: Precision,
) -> Result<String> {
    const SAMPLE: u64 = 64 * 1024;
    let io = |source| Error::Io { path: weights.to_owned(), source };
    let mut h = blake3::Hasher::new();
    h.update(b"gridkb-embed-model-id-v1\0");
    h.update(blake3::hash(config).as_bytes());
    h.update(blake3::hash(tokenizer).as_bytes());
    let mut file = std::fs::File::open(weights).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    h.update(weights.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
    h.update(&size.to_le_bytes());
    let mut buf = Vec::with_capacity(SAMPLE as usize);
    for at in [0, size.saturating_sub(SAMPLE) / 2, size.saturating_sub(SAMPLE)] {
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        buf.clear();
        (&mut file).take(SAMPLE).read_to_end(&mut buf).map_err(io)?;
        h.update(&buf);
    }
    let mut shaping = serde_json::json!({
        "pooling": s.pooling, "normalize": s.normalize, "passage_prefix": s.passage_prefix,
        "max_tokens": s.max_tokens, "long_text": s.long_text,
    });
    if precision != Precision::F32 {
        shaping["precision"] = serde_json::json!(precision);
    }
    h.update(shaping.to_string().as_bytes());
    let name = dir
        .canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    Ok(format!("{name}-{}", &h.finalize().to_hex()[..12]))
}
