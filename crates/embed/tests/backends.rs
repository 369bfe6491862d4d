//! The fast encoder (the default) and candle's BertModel give the same vectors.

mod common;

use common::{cosine, load};
use embed::{Backend, BenchOptions, EmbedConfig, Pooling, Precision};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    sentences: Vec<Entry>,
    long_truncated: Entry,
}

#[derive(Deserialize)]
struct Entry {
    text: String,
}

fn texts() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/m3e_small_reference.json");
    let r: Reference = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut t: Vec<String> = r.sentences.into_iter().map(|e| e.text).collect();
    t.push(r.long_truncated.text);
    t.push(String::new());
    t
}

const AGREE: f64 = 0.99999;

/// The fast and the candle encoder with the same settings; queries in f32 unless `config` says
/// otherwise (candle runs f32 only).
fn pair(config: EmbedConfig) -> (embed::Embedder, embed::Embedder) {
    let config = EmbedConfig { query_precision: config.query_precision.or(Some(Precision::F32)), ..config };
    let fast = load(&EmbedConfig { backend: Some(Backend::Fast), ..config.clone() });
    let candle = load(&EmbedConfig { backend: Some(Backend::Candle), ..config });
    assert_eq!(fast.backend(), Backend::Fast);
    assert_eq!(candle.backend(), Backend::Candle);
    assert_eq!(fast.model_id(), candle.model_id(), "the backend changes no vector, so not the id");
    (fast, candle)
}

#[test]
fn fast_and_candle_agree_on_the_fixture_batched_and_alone() {
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (fast, candle) = pair(EmbedConfig::default());
    let f = fast.embed_passages(&refs).unwrap();
    let c = candle.embed_passages(&refs).unwrap();
    let mut worst = 1.0f64;
    for ((a, b), t) in f.iter().zip(&c).zip(&refs) {
        let cos = cosine(a, b);
        worst = worst.min(cos);
        assert!(cos >= AGREE, "cosine {cos} for {t}");
    }
    eprintln!("worst cosine fast vs candle (padded batches): {worst:.12} (1 - cos = {:.1e})", 1.0 - worst);
    // Alone, and in small padded batches of mixed lengths, against candle's padded batch.
    for (i, t) in refs.iter().enumerate().step_by(3) {
        let alone = fast.embed_query(t).unwrap();
        assert!(cosine(&alone, &c[i]) >= AGREE, "{t}");
    }
    for chunk in refs.chunks(4) {
        for (a, t) in fast.embed_passages(chunk).unwrap().iter().zip(chunk) {
            let i = refs.iter().position(|r| r == t).unwrap();
            assert!(cosine(a, &c[i]) >= AGREE, "{t}");
        }
    }
}

#[test]
fn fast_and_candle_agree_with_cls_pooling_and_single_thread() {
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).take(8).collect();
    let (fast, candle) = pair(EmbedConfig { pooling: Some(Pooling::Cls), ..Default::default() });
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let f = pool.install(|| fast.embed_passages(&refs).unwrap());
    let c = candle.embed_passages(&refs).unwrap();
    for (a, b) in f.iter().zip(&c) {
        assert!(cosine(a, b) >= AGREE);
    }
}

#[test]
fn the_benchmark_reports_every_measurement() {
    let fast = load(&EmbedConfig::default());
    let opts = BenchOptions { threads: vec![1, 2], ..BenchOptions::quick() };
    let report = embed::bench(&fast, &opts).unwrap();
    assert_eq!(report.queries.len(), 4);
    assert_eq!(report.passages.len(), 4);
    assert_eq!(report.queries[0].tokens, 16);
    assert!(report.queries.iter().all(|q| q.p50_ms > 0.0 && q.p99_ms >= q.p50_ms && q.gflops > 0.0));
    assert!(report.passages.iter().all(|p| p.tokens_per_s > 0.0));
    let text = report.to_string();
    assert!(text.contains("tokens/s") && text.contains("p50"), "{text}");
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["passages"][0]["tokens_per_s"].as_f64().unwrap() > 0.0);
}
