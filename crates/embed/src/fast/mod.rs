//! Our own forward pass of a BERT encoder, on weights loaded by candle.
//!
//! Why not candle's `BertModel`: on 2 cores it spent most of its time outside arithmetic
//! (thread barriers, copies for transposes, per-op allocation, scalar erf / exp) and its
//! matrix products ran at ~30 GFLOP/s. This module keeps candle as the model host (the
//! `VarBuilder` reads the weights) and runs the encoder on plain `f32` buffers:
//! - weights packed once for a register-blocked GEMM ([`gemm`]; an AVX-512 micro-kernel, safe
//!   auto-vectorised AVX2 / portable fallbacks chosen at run time),
//! - q, k and v in one product, bias / residual / GELU applied as each tile is written,
//! - no padding at all: a batch is one ragged matrix of its real tokens, attention runs per
//!   sequence and per head over that sequence's keys only (what the padding mask does, exactly),
//! - fused soft-max and layer norm, vectorisable polynomial exp and erf,
//! - the threads of the current rayon pool split rows or weight panels (no spin barriers).
//!
//! Results agree with candle to about 1e-6 (cosine ≥ 0.999999 on the parity fixture). With
//! [`Precision::Int8`] the linear layers run on the integer kernels of [`int8`] instead (VNNI, or
//! AVX2 with the same results; cosine ≥ 0.999 to sentence-transformers on the fixture;
//! attention, layer norm and GELU stay f32).

mod gemm;
mod int8;
mod math;
pub(crate) mod simd;

use candle_core::DType;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config as BertConfig, HiddenAct};
use rayon::prelude::*;

use crate::config::{Pooling, Precision};
use gemm::{Epilogue, Packed, Panels};
use int8::{Kernel, QuantPacked};
use simd::{Isa, NR, multiversion};

/// The weights of one linear layer, in the precision the encoder runs with.
enum Linear {
    F32(Packed),
    Int8(QuantPacked),
}

impl Linear {
    /// `w` is `n × k` (out × in).
    fn new(int8: Option<Kernel>, w: &[f32], bias: &[f32], n: usize, k: usize) -> Linear {
        match int8 {
            None => Linear::F32(Packed::from_linear(w, bias, n, k, 1.0)),
            Some(kernel) => Linear::Int8(QuantPacked::from_linear(kernel, w, bias, n, k)),
        }
    }

    /// Output features.
    fn n(&self) -> usize {
        match self {
            Linear::F32(w) => w.n,
            Linear::Int8(w) => w.n,
        }
    }

    /// `c[m × n] = a[m × k] · wᵀ + bias`, then the epilogue.
    fn apply(&self, isa: Isa, a: &[f32], m: usize, epi: Epilogue<'_>, c: &mut [f32]) {
        match self {
            Linear::F32(w) => gemm::matmul(isa, a, m, w, epi, c),
            Linear::Int8(w) => int8::matmul(a, m, w, epi, c),
        }
    }
}

/// Stacks the output features of several weights with the same input (q, k, v), each part's
/// weight and bias multiplied by its scale.
fn stack(parts: &[(&[f32], &[f32], f32)]) -> (Vec<f32>, Vec<f32>) {
    let mut w = Vec::new();
    let mut b = Vec::new();
    for &(pw, pb, scale) in parts {
        w.extend(pw.iter().map(|x| x * scale));
        b.extend(pb.iter().map(|x| x * scale));
    }
    (w, b)
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    ln1: (Vec<f32>, Vec<f32>),
    inter: Linear,
    out: Linear,
    ln2: (Vec<f32>, Vec<f32>),
}

/// A BERT encoder ready for [`FastBert::forward`].
pub(crate) struct FastBert {
    hidden: usize,
    heads: usize,
    head_dim: usize,
    eps: f32,
    vocab: usize,
    max_positions: usize,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type0: Vec<f32>,
    emb_ln: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
    isa: Isa,
    /// The integer kernel of the linear layers; `None`: f32.
    int8: Option<Kernel>,
}

impl std::fmt::Debug for FastBert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastBert")
            .field("hidden", &self.hidden)
            .field("layers", &self.layers.len())
            .field("isa", &self.isa)
            .field("int8", &self.int8)
            .finish_non_exhaustive()
    }
}

fn get(vb: &VarBuilder, shape: &[usize], name: &str) -> candle_core::Result<Vec<f32>> {
    vb.get(shape, name)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

fn layer_norm(vb: &VarBuilder, size: usize) -> candle_core::Result<(Vec<f32>, Vec<f32>)> {
    let w = if vb.contains_tensor("gamma") { "gamma" } else { "weight" };
    let b = if vb.contains_tensor("beta") { "beta" } else { "bias" };
    Ok((get(vb, &[size], w)?, get(vb, &[size], b)?))
}

fn linear(vb: &VarBuilder, out: usize, inp: usize) -> candle_core::Result<(Vec<f32>, Vec<f32>)> {
    Ok((get(vb, &[out, inp], "weight")?, get(vb, &[out], "bias")?))
}

impl FastBert {
    /// Whether this module runs the model `config` describes; otherwise candle's does.
    pub fn supports(config: &BertConfig) -> bool {
        config.hidden_act == HiddenAct::Gelu
            && config.num_attention_heads > 0
            && config.hidden_size.is_multiple_of(config.num_attention_heads)
            && config.type_vocab_size > 0
    }

    /// Loads the weights of `c` from `vb`. `Precision::Int8` runs the linear layers in 8-bit
    /// integers, on the fastest integer kernel of this CPU (all give the same vectors).
    pub fn load(vb: &VarBuilder, c: &BertConfig, precision: Precision) -> candle_core::Result<FastBert> {
        let int8 = match precision {
            Precision::F32 => None,
            Precision::Int8 => Some(Kernel::best()),
        };
        // The same key prefixes BertModel::load accepts.
        let mut prefixes = vec![String::new(), "bert.".to_owned()];
        if let Some(t) = &c.model_type {
            prefixes.push(format!("{t}."));
        }
        let prefix = prefixes
            .into_iter()
            .find(|p| vb.contains_tensor(&format!("{p}embeddings.word_embeddings.weight")))
            .unwrap_or_default();
        let vb = if prefix.is_empty() { vb.clone() } else { vb.pp(prefix.trim_end_matches('.')) };
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let head_dim = h / c.num_attention_heads;
        let emb = vb.pp("embeddings");
        let word = get(&emb.pp("word_embeddings"), &[c.vocab_size, h], "weight")?;
        let position = get(&emb.pp("position_embeddings"), &[c.max_position_embeddings, h], "weight")?;
        let types = get(&emb.pp("token_type_embeddings"), &[c.type_vocab_size, h], "weight")?;
        let emb_ln = layer_norm(&emb.pp("LayerNorm"), h)?;
        let scale = 1.0 / (head_dim as f32).sqrt();
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for l in 0..c.num_hidden_layers {
            let vb = vb.pp(format!("encoder.layer.{l}"));
            let att = vb.pp("attention");
            let (qw, qb) = linear(&att.pp("self").pp("query"), h, h)?;
            let (kw, kb) = linear(&att.pp("self").pp("key"), h, h)?;
            let (vw, vbias) = linear(&att.pp("self").pp("value"), h, h)?;
            let (ow, ob) = linear(&att.pp("output").pp("dense"), h, h)?;
            let (iw, ib) = linear(&vb.pp("intermediate").pp("dense"), i, h)?;
            let (o2w, o2b) = linear(&vb.pp("output").pp("dense"), h, i)?;
            let (qkv_w, qkv_b) = stack(&[(&qw, &qb, scale), (&kw, &kb, 1.0), (&vw, &vbias, 1.0)]);
            layers.push(Layer {
                // The 1/√d of the attention scores is folded into the query weights.
                qkv: Linear::new(int8, &qkv_w, &qkv_b, 3 * h, h),
                attn_out: Linear::new(int8, &ow, &ob, h, h),
                ln1: layer_norm(&att.pp("output").pp("LayerNorm"), h)?,
                inter: Linear::new(int8, &iw, &ib, i, h),
                out: Linear::new(int8, &o2w, &o2b, h, i),
                ln2: layer_norm(&vb.pp("output").pp("LayerNorm"), h)?,
            });
        }
        Ok(FastBert {
            hidden: h,
            heads: c.num_attention_heads,
            head_dim,
            eps: c.layer_norm_eps as f32,
            vocab: c.vocab_size,
            max_positions: c.max_position_embeddings,
            word,
            position,
            token_type0: types[..h].to_vec(),
            emb_ln,
            layers,
            isa: Isa::detect(),
            int8,
        })
    }

    /// The kernels the encoder runs: `avx512f`, `avx2+fma`, `portable`, `avx2 int8` or
    /// `avx512-vnni int8`.
    pub fn kernel(&self) -> &'static str {
        match self.int8 {
            None => self.isa.name(),
            Some(kernel) => kernel.name(),
        }
    }

    /// The precision the linear layers run in.
    pub fn precision(&self) -> Precision {
        match self.int8 {
            None => Precision::F32,
            Some(_) => Precision::Int8,
        }
    }

    /// Pooled (not normalised) vectors of the token sequences, on the current rayon pool.
    pub fn forward(&self, seqs: &[&[u32]], pooling: Pooling) -> Result<Vec<Vec<f32>>, String> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        for s in seqs {
            if s.len() > self.max_positions {
                return Err(format!("{} tokens exceed the model's {} positions", s.len(), self.max_positions));
            }
            if let Some(&id) = s.iter().find(|&&id| id as usize >= self.vocab) {
                return Err(format!("token id {id} is outside the vocabulary of {}", self.vocab));
            }
        }
        // Run on a worker of the pool, so the splits inside are cheap local joins.
        Ok(rayon::scope(|_| self.run(seqs, pooling)))
    }

    fn run(&self, seqs: &[&[u32]], pooling: Pooling) -> Vec<Vec<f32>> {
        let h = self.hidden;
        let isa = self.isa;
        // (first row, length) of each sequence in the ragged matrix; empty ones get no rows.
        let mut spans = Vec::with_capacity(seqs.len());
        let mut m = 0;
        for s in seqs {
            spans.push((m, s.len()));
            m += s.len();
        }
        if m == 0 {
            return vec![vec![0.0; h]; seqs.len()];
        }
        let inter = self.layers.first().map_or(0, |l| l.inter.n());
        let mut x = vec![0f32; m * h];
        let mut qkv = vec![0f32; m * 3 * h];
        let mut ctx = vec![0f32; m * h];
        let mut y = vec![0f32; m * h];
        let mut mid = vec![0f32; m * inter];

        for (s, &(start, _)) in seqs.iter().zip(&spans) {
            for (p, &id) in s.iter().enumerate() {
                let row = &mut x[(start + p) * h..][..h];
                let w = &self.word[id as usize * h..][..h];
                let pe = &self.position[p * h..][..h];
                for (((r, &a), &b), &c) in row.iter_mut().zip(w).zip(pe).zip(&self.token_type0) {
                    *r = a + c + b;
                }
            }
        }
        self.layer_norm_rows(&mut x, &self.emb_ln);

        let ragged: Vec<(usize, usize)> = spans.iter().copied().filter(|s| s.1 > 0).collect();
        for layer in &self.layers {
            layer.qkv.apply(isa, &x, m, Epilogue { residual: None, gelu: false }, &mut qkv);
            self.attention(&qkv, &ragged, &mut ctx);
            layer.attn_out.apply(isa, &ctx, m, Epilogue { residual: Some(&x), gelu: false }, &mut y);
            self.layer_norm_rows(&mut y, &layer.ln1);
            layer.inter.apply(isa, &y, m, Epilogue { residual: None, gelu: true }, &mut mid);
            layer.out.apply(isa, &mid, m, Epilogue { residual: Some(&y), gelu: false }, &mut x);
            self.layer_norm_rows(&mut x, &layer.ln2);
        }

        spans
            .iter()
            .map(|&(start, n)| match (pooling, n) {
                (_, 0) => vec![0.0; h],
                (Pooling::Cls, _) => x[start * h..][..h].to_vec(),
                (Pooling::Mean, _) => {
                    let mut acc = vec![0f64; h];
                    for row in x[start * h..(start + n) * h].chunks_exact(h) {
                        for (a, &v) in acc.iter_mut().zip(row) {
                            *a += f64::from(v);
                        }
                    }
                    acc.iter().map(|&a| (a / n as f64) as f32).collect()
                }
            })
            .collect()
    }

    fn layer_norm_rows(&self, x: &mut [f32], (g, b): &(Vec<f32>, Vec<f32>)) {
        let h = self.hidden;
        let m = x.len() / h;
        let threads = rayon::current_num_threads();
        if threads > 1 && m >= 256 {
            let rows = m.div_ceil(threads);
            x.par_chunks_mut(rows * h).for_each(|x| layer_norm_rows(self.isa, x, g, b, self.eps));
        } else {
            layer_norm_rows(self.isa, x, g, b, self.eps);
        }
    }

    /// Self-attention of every sequence and head: `softmax(Q Kᵀ) V` over the sequence's own
    /// tokens (the keys of other sequences and padding never enter, as with the padding mask).
    /// Both products run on the GEMM kernel; (sequence, head) pairs are spread over the threads.
    fn attention(&self, qkv: &[f32], spans: &[(usize, usize)], ctx: &mut [f32]) {
        let (h, d) = (self.hidden, self.head_dim);
        let work: usize = spans.iter().map(|s| s.1 * s.1).sum::<usize>() * h;
        let threads = rayon::current_num_threads();
        let jobs: Vec<(usize, usize, usize)> =
            spans.iter().flat_map(|&(start, n)| (0..self.heads).map(move |head| (start, n, head))).collect();
        let head_of = |&(start, n, head): &(usize, usize, usize)| {
            let mut out = vec![0f32; n * d];
            attend(self.isa, qkv, start, n, head, (h, d), &mut out);
            out
        };
        let scatter = |ctx: &mut [f32], (start, n, head): (usize, usize, usize), out: &[f32]| {
            for (i, o) in out.chunks_exact(d).enumerate().take(n) {
                ctx[(start + i) * h + head * d..][..d].copy_from_slice(o);
            }
        };
        if threads > 1 && work >= 1 << 20 {
            let outs: Vec<Vec<f32>> = jobs.par_iter().map(head_of).collect();
            for (&job, out) in jobs.iter().zip(&outs) {
                scatter(ctx, job, out);
            }
        } else {
            for &job in &jobs {
                let out = head_of(&job);
                scatter(ctx, job, &out);
            }
        }
    }
}

/// One head of one sequence (rows `start..start + n` of `qkv`) into `out` (`n × d`).
fn attend(isa: Isa, qkv: &[f32], start: usize, n: usize, head: usize, (h, d): (usize, usize), out: &mut [f32]) {
    let ld = 3 * h;
    let rows = &qkv[start * ld..(start + n) * ld];
    // Keys as the right-hand matrix of Q·Kᵀ: depth d, one column per key.
    let mut kp = vec![0f32; n.div_ceil(NR) * d * NR];
    gemm::pack_panels(d, n, &mut kp, |t, j| rows[j * ld + h + head * d + t]);
    let mut scores = vec![0f32; n * n];
    let q = &rows[head * d..];
    gemm::matmul_small(isa, q, ld, n, &Panels { k: d, n, data: &kp, bias: None }, &mut scores);
    softmax_rows(isa, &mut scores, n);
    // Values: depth n, one column per dimension of the head.
    let mut vp = vec![0f32; d.div_ceil(NR) * n * NR];
    gemm::pack_panels(n, d, &mut vp, |j, t| rows[j * ld + 2 * h + head * d + t]);
    gemm::matmul_small(isa, &scores, n, n, &Panels { k: n, n: d, data: &vp, bias: None }, out);
}

multiversion!(fn softmax_rows(x: &mut [f32], n: usize) => softmax_rows_impl);

#[inline(always)]
fn softmax_rows_impl(_: Isa, x: &mut [f32], n: usize) {
    for row in x.chunks_exact_mut(n) {
        math::softmax(row);
    }
}

multiversion!(fn layer_norm_rows(x: &mut [f32], g: &[f32], b: &[f32], eps: f32) => layer_norm_rows_impl);

#[inline(always)]
fn layer_norm_rows_impl(_: Isa, x: &mut [f32], g: &[f32], b: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(g.len()) {
        math::layer_norm(row, g, b, eps);
    }
}
