//! Parity with sentence-transformers on the default model, and the behaviour around it.
//! Needs models/m3e-small (scripts/fetch-model.sh); fails with that advice when it is missing.

mod common;

use common::{cosine, f32_queries, load, model_dir};
use embed::{EmbedConfig, Embedder, Error, LongText, Pooling, Precision};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    sentences: Vec<Entry>,
    long_truncated: Entry,
}

#[derive(Deserialize)]
struct Entry {
    text: String,
    tokens: usize,
    vector: Vec<f32>,
}

fn reference() -> Reference {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/m3e_small_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const PARITY: f64 = 0.9999;

#[test]
fn matches_sentence_transformers_on_power_equipment_sentences() {
    let reference = reference();
    assert!(reference.sentences.len() >= 20);
    let embedder = load(&f32_queries());
    assert_eq!(embedder.dimension(), 512);
    let texts: Vec<&str> = reference.sentences.iter().map(|e| e.text.as_str()).collect();
    // All together: sorted into length buckets and padded.
    let batched = embedder.embed_passages(&texts).unwrap();
    let mut worst = 1.0f64;
    for (e, v) in reference.sentences.iter().zip(&batched) {
        assert_eq!(embedder.count_tokens(&e.text).unwrap(), e.tokens, "token count of {}", e.text);
        let c = cosine(v, &e.vector);
        worst = worst.min(c);
        assert!(c >= PARITY, "cosine {c} < {PARITY} for {}", e.text);
        let norm: f64 = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "not normalised: {norm}");
    }
    eprintln!("worst cosine against sentence-transformers: {worst:.9}");
    // One at a time gives the same vectors as the padded batch.
    for (text, v) in texts.iter().zip(&batched).step_by(5) {
        let alone = embedder.embed_queries(&[text]).unwrap().remove(0);
        assert!(cosine(&alone, v) > 0.999_999, "padding changed the vector of {text}");
    }
}

#[test]
fn a_truncated_long_text_matches_sentence_transformers() {
    let reference = reference();
    let long = &reference.long_truncated;
    assert!(long.tokens > 512);
    let first = load(&EmbedConfig { long_text: Some(LongText::First), ..Default::default() });
    let v = first.embed_passages(&[&long.text]).unwrap().remove(0);
    let c = cosine(&v, &long.vector);
    assert!(c >= PARITY, "cosine {c}");

    // The default embeds every window and averages: a different, normalised vector.
    let mean = load(&EmbedConfig::default());
    assert_ne!(first.model_id(), mean.model_id(), "long_text shapes vectors, so it is part of the id");
    let m = mean.embed_passages(&[&long.text]).unwrap().remove(0);
    let norm: f64 = m.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    assert!(cosine(&m, &v) < 0.9999 && cosine(&m, &v) > 0.8);
    assert_eq!(mean.embed_documents(&[&long.text]).unwrap(), vec![vec![m.clone()]]);

    // Best passage: every window is a vector of its own.
    let windows = load(&EmbedConfig { long_text: Some(LongText::Windows), ..Default::default() });
    let docs = windows.embed_documents(&[&long.text, "短文本"]).unwrap();
    assert_eq!(docs[0].len(), (long.tokens - 2).div_ceil(510));
    assert_eq!(docs[1].len(), 1);
    assert!(cosine(&docs[0][0], &v) > 0.999_999, "the first window is the truncated text");
    assert!(cosine(&windows.embed_passages(&[&long.text]).unwrap()[0], &m) > 0.999_999, "one vector: the mean");
}

#[test]
fn query_prefix_and_pooling_come_from_configuration() {
    let prefix = "为这个句子生成表示以用于检索相关文章：";
    let plain = load(&f32_queries());
    let prefixed = load(&EmbedConfig { query_prefix: Some(prefix.into()), ..f32_queries() });
    assert_eq!(plain.model_id(), prefixed.model_id(), "the query prefix changes no stored vector");
    let q = prefixed.embed_queries(&["电表黑屏"]).unwrap().remove(0);
    let p = prefixed.embed_passages(&[&format!("{prefix}电表黑屏")]).unwrap().remove(0);
    assert!(cosine(&q, &p) > 0.999_999);
    assert!(cosine(&q, &plain.embed_queries(&["电表黑屏"]).unwrap()[0]) < 0.999);

    let cls = load(&EmbedConfig { pooling: Some(Pooling::Cls), ..Default::default() });
    assert_ne!(cls.model_id(), plain.model_id());
    let c = cls.embed_passages(&["电表黑屏"]).unwrap().remove(0);
    assert!(cosine(&c, &plain.embed_passages(&["电表黑屏"]).unwrap()[0]) < 0.999);

    // The same directory and settings give the same id on every load.
    assert_eq!(load(&EmbedConfig::default()).model_id(), plain.model_id());
    assert!(plain.model_id().starts_with("m3e-small-"), "{}", plain.model_id());
}

#[test]
fn the_embedder_and_cache_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Embedder>();
    send_sync::<embed::EmbeddingCache>();
}

#[test]
fn empty_input_and_empty_text() {
    let e = load(&EmbedConfig::default());
    assert!(e.embed_passages(&[]).unwrap().is_empty());
    let v = e.embed_passages(&[""]).unwrap();
    assert_eq!(v[0].len(), 512);
    assert!(v[0].iter().all(|x| x.is_finite()));
}

#[test]
fn safetensors_weights_give_the_same_vectors_as_pytorch_weights() {
    // Convert the fetched pytorch_model.bin to model.safetensors in a scratch model directory.
    let dir = tempfile::tempdir().unwrap();
    let src = model_dir();
    let tensors: std::collections::HashMap<String, candle_core::Tensor> =
        candle_core::pickle::read_all(src.join("pytorch_model.bin")).unwrap().into_iter().collect();
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let from_st = Embedder::load(dir.path(), &EmbedConfig::default()).unwrap();
    let from_pth = load(&EmbedConfig::default());
    let texts = ["变压器油温过高报警怎么处理？", "电表黑屏"];
    assert_eq!(from_st.embed_passages(&texts).unwrap(), from_pth.embed_passages(&texts).unwrap());
    assert_ne!(from_st.model_id(), from_pth.model_id(), "the ids differ: other weights file, other directory");
}

#[test]
fn a_broken_model_directory_says_what_to_do() {
    let missing = Embedder::load(std::path::Path::new("/nonexistent/m3e-small"), &EmbedConfig::default()).unwrap_err();
    assert!(matches!(missing, Error::NoModelDir { .. }));
    assert!(missing.to_string().contains("scripts/fetch-model.sh"), "{missing}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(model_dir().join("config.json"), dir.path().join("config.json")).unwrap();
    let e = Embedder::load(dir.path(), &EmbedConfig::default()).unwrap_err().to_string();
    assert!(e.contains("has no tokenizer.json") && e.contains("scripts/fetch-model.sh"), "{e}");

    std::fs::copy(model_dir().join("tokenizer.json"), dir.path().join("tokenizer.json")).unwrap();
    let e = Embedder::load(dir.path(), &EmbedConfig::default()).unwrap_err().to_string();
    assert!(e.contains("no weights"), "{e}");

    std::fs::write(dir.path().join("model.safetensors"), b"not safetensors").unwrap();
    let e = Embedder::load(dir.path(), &EmbedConfig::default()).unwrap_err().to_string();
    assert!(e.contains("cannot load the weights"), "{e}");
}

/// The bar int8 must clear to be worth offering: cosine ≥ 0.999 against sentence-transformers on
/// every sentence of the fixture. The fast encoder runs int8 on every CPU (VNNI, AVX2 or portable
/// kernels, with the same vectors); only candle's encoder (`GRIDKB_EMBED_BACKEND=candle`) runs it in
/// f32, where the same bar holds trivially.
const INT8_PARITY: f64 = 0.999;

#[test]
fn int8_stays_close_to_sentence_transformers() {
    let reference = reference();
    let int8 = load(&EmbedConfig { precision: Some(Precision::Int8), ..Default::default() });
    let f32 = load(&EmbedConfig::default());
    if std::env::var("GRIDKB_EMBED_BACKEND").as_deref() == Ok("candle") {
        eprintln!("candle's encoder: int8 runs in f32");
        assert_eq!(int8.model_id(), f32.model_id());
    } else {
        assert_eq!(int8.precision(), Precision::Int8);
        let kernel = int8.kernel();
        assert!(["avx512-vnni int8", "avx2 int8", "portable int8"].contains(&kernel), "{kernel}");
        eprintln!("int8 kernel: {kernel}");
        assert_ne!(int8.model_id(), f32.model_id(), "int8 vectors differ from f32 ones: another id");
    }
    let texts: Vec<&str> = reference.sentences.iter().map(|e| e.text.as_str()).collect();
    let batched = int8.embed_passages(&texts).unwrap();
    let (mut worst, mut sum) = (1.0f64, 0.0);
    for (e, v) in reference.sentences.iter().zip(&batched) {
        let c = cosine(v, &e.vector);
        worst = worst.min(c);
        sum += c;
        assert!(c >= INT8_PARITY, "int8 cosine {c} < {INT8_PARITY} for {}", e.text);
    }
    eprintln!("int8 against sentence-transformers: min cosine {worst:.6}, mean {:.6}", sum / texts.len() as f64);
    // Per-token quantisation: a text's vector does not depend on what it is batched with.
    for (text, v) in texts.iter().zip(&batched).step_by(5) {
        let alone = int8.embed_queries(&[text]).unwrap().remove(0);
        assert!(cosine(&alone, v) > 0.999_999, "batching changed the int8 vector of {text}");
    }
}

#[test]
fn int8_queries_leave_passages_and_the_model_id_as_they_are() {
    let f32 = load(&f32_queries());
    let mixed = load(&EmbedConfig { query_precision: Some(Precision::Int8), ..Default::default() });
    assert_eq!(mixed.model_id(), f32.model_id(), "stored vectors are f32 as before");
    let default = load(&EmbedConfig::default());
    assert_eq!(default.precision(), Precision::F32, "passages are f32 by default");
    assert_eq!(default.query_precision(), mixed.query_precision(), "queries are int8 by default");
    assert_eq!(default.model_id(), f32.model_id());
    assert_eq!(mixed.precision(), Precision::F32);
    let texts = ["变压器油温过高报警怎么处理？", "电表黑屏不走字"];
    assert_eq!(mixed.embed_passages(&texts).unwrap(), f32.embed_passages(&texts).unwrap());
    let (q, p) = (mixed.embed_queries(&texts).unwrap(), f32.embed_queries(&texts).unwrap());
    for (a, b) in q.iter().zip(&p) {
        assert!(cosine(a, b) >= INT8_PARITY, "query cosine {}", cosine(a, b));
    }
    if mixed.query_precision() == Precision::Int8 {
        assert_ne!(q, p, "queries ran in int8");
    }
}
