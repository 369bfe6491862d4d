//! The embedding cache with the real model: a second run over the same texts embeds nothing.

mod common;

use common::{cosine, load};
use embed::{CacheStats, EmbedConfig, EmbeddingCache, LongText};

const TEXTS: [&str; 6] = [
    "变压器油温过高报警怎么处理？",
    "智能电表显示屏黑屏，不走字。",
    "环网柜SF6气体压力低告警，需要补气吗？",
    "智能电表显示屏黑屏，不走字。",
    "集中器与主站通道告警，远程抄表失败。",
    "",
];

#[test]
fn a_second_run_embeds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("embeddings.redb");
    let embedder = load(&EmbedConfig::default());
    let direct = embedder.embed_documents(&TEXTS).unwrap();

    let first = {
        let cache = EmbeddingCache::open(&path).unwrap();
        let (vectors, stats) = cache.embed_documents(&embedder, &TEXTS).unwrap();
        // The duplicate text is embedded once.
        assert_eq!(stats, CacheStats { hits: 0, embedded: 5 });
        assert_eq!(cache.count(embedder.model_id()).unwrap(), 5);
        vectors
    };
    for (a, b) in first.iter().zip(&direct) {
        assert_eq!(a, b);
    }

    // Reopened, as after a restart: everything comes from the cache, bit for bit.
    let cache = EmbeddingCache::open(&path).unwrap();
    let (second, stats) = cache.embed_documents(&embedder, &TEXTS).unwrap();
    assert_eq!(stats, CacheStats { hits: 6, embedded: 0 });
    assert_eq!(second, first);

    // One changed text: only that one is embedded.
    let mut edited = TEXTS;
    edited[2] = "环网柜SF6气体压力低告警，已补气。";
    let (third, stats) = cache.embed_documents(&embedder, &edited).unwrap();
    assert_eq!(stats, CacheStats { hits: 5, embedded: 1 });
    assert!(cosine(&third[2][0], &first[2][0]) < 0.9999);

    // Another model id (here: other long-text settings) does not see these vectors.
    let other = load(&EmbedConfig { long_text: Some(LongText::First), ..Default::default() });
    let (_, stats) = cache.embed_documents(&other, &TEXTS[..1]).unwrap();
    assert_eq!(stats, CacheStats { hits: 0, embedded: 1 });
}
