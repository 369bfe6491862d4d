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

    // Other pooling is another model: it sees none of these vectors.
    let cls = load(&EmbedConfig { pooling: Some(embed::Pooling::Cls), ..Default::default() });
    let (_, stats) = cache.embed_documents(&cls, &TEXTS[..1]).unwrap();
    assert_eq!(stats, CacheStats { hits: 0, embedded: 1 });
}

/// The fixture's text longer than one window (1,358 tokens: three windows).
fn long_text() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/m3e_small_reference.json");
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    reference["long_truncated"]["text"].as_str().unwrap().to_string()
}

#[test]
fn long_texts_are_cached_per_long_text_mode_and_short_ones_are_shared() {
    let dir = tempfile::tempdir().unwrap();
    let cache = EmbeddingCache::open(&dir.path().join("embeddings.redb")).unwrap();
    let long = long_text();
    let texts = [TEXTS[0], long.as_str()];
    let mean = load(&EmbedConfig::default());
    let first = load(&EmbedConfig { long_text: Some(LongText::First), ..Default::default() });
    let windows = load(&EmbedConfig { long_text: Some(LongText::Windows), ..Default::default() });
    assert_eq!(mean.window_id(), mean.model_id(), "the default mode's ids are the old ones");
    assert_eq!(first.window_id(), mean.model_id());
    assert_eq!(windows.window_id(), mean.model_id());
    assert_ne!(first.model_id(), mean.model_id());
    assert!(mean.fits_one_window(TEXTS[0]).unwrap() && !mean.fits_one_window(&long).unwrap());

    let (by_mean, stats) = cache.embed_documents(&mean, &texts).unwrap();
    assert_eq!(stats, CacheStats { hits: 0, embedded: 2 });
    // Another mode: the short text's vector is shared, the long one is embedded again, and
    // what comes back is what that mode makes, never the mean of the windows.
    for (embedder, windows_of_long) in [(&first, 1), (&windows, 3)] {
        let (got, stats) = cache.embed_documents(embedder, &texts).unwrap();
        assert_eq!(stats, CacheStats { hits: 1, embedded: 1 }, "{:?}", embedder.settings().long_text);
        assert_eq!(got[0], by_mean[0]);
        assert_eq!(got[1], embedder.embed_documents(&[&long]).unwrap()[0]);
        assert_eq!(got[1].len(), windows_of_long);
        assert!(cosine(&got[1][0], &by_mean[1][0]) < 0.9999);
        let (again, stats) = cache.embed_documents(embedder, &texts).unwrap();
        assert_eq!((stats, &again), (CacheStats { hits: 2, embedded: 0 }, &got));
    }
    // And the mean vector of the long text is still the default mode's.
    let (again, stats) = cache.embed_documents(&mean, &texts).unwrap();
    assert_eq!((stats, &again), (CacheStats { hits: 2, embedded: 0 }, &by_mean));
    // Keeping the default's vectors only drops the other modes' long ones.
    assert_eq!(cache.retain_models(&[first.model_id(), first.window_id()]).unwrap(), 1);
    assert_eq!(cache.count(mean.model_id()).unwrap(), 2);
}
